// asciinema-player's own words (its tooltips, button labels and keyboard-help popup) in the console's language.
// The player has no option for its texts (3.x writes them in English from its templates), so its English is
// mapped here, text for text, to the catalogue's messages and swapped in the player's DOM as the player draws
// it — again whenever it redraws a part (mute/unmute, play/pause, the help popup opening). A text the map does
// not know stays as the player wrote it.
import { t, type MessageKey } from '../i18n.js';

/** The player's English (exact text of a text node, or of an aria-label) → the catalogue's message. */
const WORDS: Record<string, MessageKey> = {
  'Fullscreen (f)': 'console.player.tooltip.fullscreen',
  'Keyboard shortcuts (?)': 'console.player.tooltip.shortcuts',
  'Mute (m)': 'console.player.tooltip.mute',
  'Unmute (m)': 'console.player.tooltip.unmute',
  'Toggle fullscreen mode': 'console.player.label.fullscreen',
  'Show keyboard shortcuts': 'console.player.label.shortcuts',
  'Mute / unmute': 'console.player.label.mute',
  Play: 'console.player.label.play',
  Pause: 'console.player.label.pause',
  'Keyboard shortcuts': 'console.player.help.heading',
  space: 'console.player.help.space',
  ' - pause / resume': 'console.player.help.pause',
  ' - rewind / fast-forward by 5 seconds': 'console.player.help.seek5',
  ' - rewind / fast-forward by 10%': 'console.player.help.seek10',
  ' - jump to the previous / next marker': 'console.player.help.marker',
  ' - jump to 0%, 10%, 20% ... 90%': 'console.player.help.jump',
  ' - step back / forward, a frame at a time (when paused)': 'console.player.help.step',
  ' - mute / unmute audio': 'console.player.help.mute',
  ' - toggle fullscreen mode': 'console.player.help.fullscreen',
  ' - toggle keystroke overlay': 'console.player.help.keystrokes',
  ' - show this help popup': 'console.player.help.help',
};

// Written only when it differs: a write is a mutation the observer hears again (in English, for ever).
function swapText(node: Text): void {
  const key = WORDS[node.data];
  const text = key ? t(key) : node.data;
  if (text !== node.data) node.data = text;
}

function swapLabel(el: Element): void {
  const label = el.getAttribute('aria-label');
  const key = label === null ? undefined : WORDS[label];
  const text = key ? t(key) : label;
  if (text !== null && text !== label) el.setAttribute('aria-label', text);
}

function swapAll(root: Node): void {
  if (root.nodeType === Node.TEXT_NODE) return swapText(root as Text);
  if (!(root instanceof Element)) return;
  swapLabel(root);
  for (const el of root.querySelectorAll('[aria-label]')) swapLabel(el);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) swapText(n as Text);
}

/** Put the player under `root` into the console's language, now and as it redraws; returns the undo (disconnect). */
export function localizePlayer(root: HTMLElement): () => void {
  swapAll(root);
  const observer = new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.type === 'childList') c.addedNodes.forEach(swapAll);
      else if (c.type === 'characterData') swapText(c.target as Text);
      else if (c.type === 'attributes') swapLabel(c.target as Element);
    }
  });
  observer.observe(root, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['aria-label'] });
  return () => observer.disconnect();
}
