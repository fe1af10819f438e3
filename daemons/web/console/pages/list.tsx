// A server-paged list as the pages show it: "loading" until the page arrives, "nothing here" for an empty
// page, else the table with its column headings and one row per item. Each page keeps its own columns, cells
// and actions; this is the frame they share.
import type { ComponentChildren } from 'preact';
import { t, type MessageKey } from '../i18n.js';

/** `empty`: what an empty list says, when the page has a more telling sentence than "nothing here". */
export function ListTable<T>({ id, items, head, row, empty = 'console.empty' }: { id: string; items: readonly T[] | null; head: ComponentChildren; row: (item: T, index: number) => ComponentChildren; empty?: MessageKey }) {
  if (items === null) return <p aria-busy="true">{t('console.loading')}</p>;
  if (items.length === 0) return <p class="empty">{t(empty)}</p>;
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
