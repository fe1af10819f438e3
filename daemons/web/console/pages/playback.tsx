// A recording played back in the browser: asciinema-player fed from the asciicast API (streamed, verified by
// the server before the first byte), its speed chosen here, and the session's commands beside it — a click
// on one moves the player to the moment it was entered; the player's own words in the console's language.
import { useEffect, useRef, useState } from 'preact/hooks';
import type * as AsciinemaPlayer from 'asciinema-player';

/**
 * The player (its terminal emulator is WebAssembly, ~90 KB gzip) is its own chunk, fetched when a recording is
 * first opened: the console's first load does not carry it.
 */
let playerLibrary: Promise<typeof AsciinemaPlayer> | undefined;
const loadPlayer = () => (playerLibrary ??= import('asciinema-player'));
import 'asciinema-player/dist/bundle/asciinema-player.css';
import { api, failed, query } from '../api.js';
import { formatDateTime, t } from '../i18n.js';
import { followLink } from '../router.js';
import { PAGE_SIZE, Pager } from './paging.js';
import type { Recording, RecordingCommand } from './sessions-types.js';
import { formatPosition } from './sessions-format.js';
import { localizePlayer } from './player-words.js';

const SPEEDS = [0.5, 1, 2, 4, 8];

/** The player: made again when the speed changes (it takes the speed only when made), at the same moment. */
function Player({ id, start, speed, onPlayer }: { id: string; start: number; speed: number; onPlayer: (p: AsciinemaPlayer.Player | null) => void }) {
  const host = useRef<HTMLDivElement>(null);
  const at = useRef(start);
  const last = useRef<AsciinemaPlayer.Player | null>(null);
  const playing = useRef(false);
  /** The recording and start the player was made for: another one (back/forward) starts where its address says. */
  const shown = useRef(`${id}@${start}`);

  // The player's own words in the console's language, for every player made in this box.
  useEffect(() => (host.current ? localizePlayer(host.current) : undefined), []);

  useEffect(() => {
    let current = true;
    void loadPlayer().then((library) => {
      if (current) make(library);
    });
    return () => void (current = false);
  }, [id, start, speed]);

  function make(library: typeof AsciinemaPlayer): void {
    if (!host.current) return;
    const previous = last.current;
    let resume = false;
    // A new speed goes on where the player was.
    if (previous && shown.current !== `${id}@${start}`) {
      previous.dispose();
      at.current = start;
    } else if (previous) {
      at.current = previous.getCurrentTime();
      resume = playing.current;
      previous.dispose();
    }
    const player = library.create({ url: `/api/v1/recordings/${id}/asciicast`, fetchOpts: { credentials: 'same-origin' } }, host.current, {
      preload: true,
      startAt: at.current,
      speed,
      autoPlay: resume,
      // Without a poster a paused player shows nothing until played; this one shows the screen at its start.
      ...(resume ? {} : { poster: `npt:${at.current}` }),
      fit: 'width',
      terminalFontSize: 'small',
    });
    playing.current = false;
    player.addEventListener('playing', () => (playing.current = true));
    player.addEventListener('pause', () => (playing.current = false));
    player.addEventListener('ended', () => (playing.current = false));
    last.current = player;
    shown.current = `${id}@${start}`;
    onPlayer(player);
  }

  useEffect(
    () => () => {
      last.current?.dispose();
      last.current = null;
      onPlayer(null);
    },
    [],
  );

  return <div class="player" id="player" ref={host} role="region" aria-label={t('console.sessions.playback.player')} />;
}

function Commands({ id, onJump }: { id: string; onJump: (c: RecordingCommand) => void }) {
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<{ commands: RecordingCommand[]; total: number } | null>(null);
  useEffect(() => {
    let live = true;
    api<{ commands: RecordingCommand[]; total: number }>('GET', `/api/v1/recordings/${id}/commands${query({ limit: PAGE_SIZE, offset })}`)
      .then((r) => live && setPage(r))
      .catch(failed);
    return () => {
      live = false;
    };
  }, [id, offset]);
  return (
    <aside class="commands" aria-labelledby="commands-heading">
      <h2 id="commands-heading">{t('console.sessions.playback.commands')}</h2>
      {page === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : page.commands.length === 0 ? (
        <p class="empty">{t('console.sessions.playback.noCommands')}</p>
      ) : (
        <ol id="command-list">
          {page.commands.map((c, i) => (
            <li key={`${offset + i}`} class={c.action === 'block' ? 'blocked' : undefined}>
              <button
                type="button"
                class="link command"
                data-offset={c.offsetSeconds}
                title={t('console.sessions.playback.jump', { position: formatPosition(c.offsetSeconds), command: c.command })}
                onClick={() => onJump(c)}
              >
                <span class="position">{formatPosition(c.offsetSeconds)}</span>
                <code>{c.command}</code>
              </button>
              {c.action === 'block' ? <span class="badge warn">{t('console.sessions.search.blocked')}</span> : null}
            </li>
          ))}
        </ol>
      )}
      {page && page.total > PAGE_SIZE ? <Pager offset={offset} shown={page.commands.length} total={page.total} onPage={setOffset} /> : null}
    </aside>
  );
}

/**
 * An RDP recording: its desktop as pictures the server renders and streams at the recording's pace (an <img>
 * on a multipart/x-mixed-replace answer shows each as it comes). Played from a chosen second, at a chosen speed;
 * stopping drops the image, which closes the stream and ends the rendering.
 */
function RdpFilm({ id, start }: { id: string; start: number }) {
  const [playing, setPlaying] = useState<{ from: number; speed: number; n: number } | null>({ from: start, speed: 1, n: 0 });
  const [from, setFrom] = useState(start);
  const [speed, setSpeed] = useState(1);
  return (
    <div class="panel wide" id="rdp-film">
      <form
        class="filters"
        onSubmit={(ev) => {
          ev.preventDefault();
          setPlaying({ from, speed, n: (playing?.n ?? 0) + 1 });
        }}
      >
        <label>
          {t('console.sessions.rdp.from')}
          <input type="number" id="rdp-from" min={0} step={1} value={String(from)} onInput={(ev) => setFrom(Math.max(0, Math.floor(Number((ev.currentTarget as HTMLInputElement).value) || 0)))} />
        </label>
        <label>
          {t('console.sessions.playback.speed')}
          <select id="rdp-speed" value={String(speed)} onChange={(ev) => setSpeed(Number((ev.currentTarget as HTMLSelectElement).value))}>
            {SPEEDS.map((s) => (
              <option key={s} value={String(s)}>
                {`${s}×`}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" id="rdp-play">
          {t('console.sessions.rdp.play')}
        </button>
        <button type="button" class="secondary" id="rdp-stop" disabled={playing === null} onClick={() => setPlaying(null)}>
          {t('console.sessions.rdp.stop')}
        </button>
      </form>
      {playing ? (
        <img
          key={playing.n}
          id="rdp-picture"
          class="rdp-picture"
          alt={t('console.sessions.rdp.alt')}
          src={`/api/v1/recordings/${id}/frames${query({ from: playing.from * 1000, speed: String(playing.speed) })}`}
        />
      ) : null}
    </div>
  );
}

export function PlaybackPage({ id, start }: { id: string; start: number }) {
  const [rec, setRec] = useState<Recording | null>(null);
  const [speed, setSpeed] = useState(1);
  const player = useRef<AsciinemaPlayer.Player | null>(null);

  useEffect(() => {
    let live = true;
    setRec(null);
    api<{ recording: Recording }>('GET', `/api/v1/recordings/${id}`)
      .then((r) => live && setRec(r.recording))
      .catch(failed);
    return () => {
      live = false;
    };
  }, [id]);

  const jump = (c: RecordingCommand) => {
    const p = player.current;
    if (!p) return;
    // A little before the Enter, so the line as it was typed is on the screen when the player stops there.
    void p.seek(Math.max(0, c.offsetSeconds - 0.05)).then(() => p.play());
  };

  const back = '/console/sessions?tab=history';
  return (
    <section class="playback">
      <div class="page-head">
        <h1 tabIndex={-1}>{t('console.sessions.playback.heading')}</h1>
        <a class="button secondary" href={back} onClick={(ev) => followLink(ev, back)}>
          {t('console.sessions.playback.back')}
        </a>
      </div>
      {rec === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : (
        <div>
          <p class="note" id="playback-who">
            {t('console.sessions.playback.who', { user: rec.user, device: rec.device, account: rec.credential, source: rec.source })}
            {' · '}
            {formatDateTime(rec.startedAt)}
          </p>
          {rec.protocol !== 'ssh' ? (
            <RdpFilm id={id} start={start} />
          ) : (
            <div class="playback-layout">
              <div class="playback-main">
                <label class="speed">
                  {t('console.sessions.playback.speed')}
                  <select id="playback-speed" value={String(speed)} onChange={(ev) => setSpeed(Number((ev.currentTarget as HTMLSelectElement).value))}>
                    {SPEEDS.map((s) => (
                      <option key={s} value={String(s)}>
                        {`${s}×`}
                      </option>
                    ))}
                  </select>
                </label>
                <Player id={id} start={start} speed={speed} onPlayer={(p) => (player.current = p)} />
              </div>
              <Commands id={id} onJump={jump} />
            </div>
          )}
        </div>
      )}
    </section>
  );
}
