// Recording: the encrypted, chained, append-only session recording file — its writer, its reader and
// verifier, and its exporters (asciicast v2 for terminals, frames of the desktop for RDP). Shared by every
// proxy; knows nothing of sessions.
export { RecordingWriter, recordingFileName, type RecordingWriterOptions, type RecordingSummary } from './writer.js';
export { openRecording, verifyRecording, readRecordingHeader, Recording, type OpenOptions, type Verdict } from './reader.js';
export { asciicastLines, type AsciicastOptions } from './asciicast.js';
export type { RecordingCompression, RecordingEvent, RecordingHeader, RecordingMeta } from './format.js';
export { rdpFrames, RdpRenderer, type RdpFrame, type RdpFramesOptions, type RdpRenderStats } from './rdp-render.js';
export { RdpFramebuffer, encodePng, decodePng, fitPicture } from './rdp-framebuffer.js';
export { RdpFrameSplitter, RdpUpdateParser, type RdpUpdate, type BitmapRect } from './rdp-update.js';
export { RdpGraphicsError, decodeBitmap, decodeInterleaved, decodeInterleavedPixels, decodePlanar, decodePlaneRle, decodeUncompressed, pixelsToRgba } from './rdp-bitmap.js';
