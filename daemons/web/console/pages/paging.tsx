// Previous / next over a server-paged list, with "1–50 of 1,234".
import { formatNumber, t } from '../i18n.js';

export const PAGE_SIZE = 50;

export function Pager({ offset, shown, total, onPage }: { offset: number; shown: number; total: number; onPage: (offset: number) => void }) {
  const from = total === 0 ? 0 : offset + 1;
  return (
    <div class="pager">
      <span class="range" id="range">
        {t('console.paging.range', { from: formatNumber(from), to: formatNumber(offset + shown), total: formatNumber(total) })}
      </span>
      <button type="button" class="secondary" disabled={offset === 0} onClick={() => onPage(Math.max(0, offset - PAGE_SIZE))}>
        {t('console.paging.previous')}
      </button>
      <button type="button" class="secondary" disabled={offset + shown >= total} onClick={() => onPage(offset + PAGE_SIZE)}>
        {t('console.paging.next')}
      </button>
    </div>
  );
}
