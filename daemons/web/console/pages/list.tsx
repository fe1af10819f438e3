// A server-paged list as the pages show it: "loading" until the page arrives, "nothing here" for an empty
// page, else the table with its column headings and one row per item. Each page keeps its own columns, cells
// and actions; this is the frame they share.
import type { ComponentChildren } from 'preact';
import { t } from '../i18n.js';

export function ListTable<T>({ id, items, head, row }: { id: string; items: readonly T[] | null; head: ComponentChildren; row: (item: T) => ComponentChildren }) {
  if (items === null) return <p aria-busy="true">{t('console.loading')}</p>;
  if (items.length === 0) return <p class="empty">{t('console.empty')}</p>;
  return (
    <div class="table-wrap">
      <table id={id}>
        <thead>
          <tr>{head}</tr>
        </thead>
        <tbody>{items.map(row)}</tbody>
      </table>
    </div>
  );
}
