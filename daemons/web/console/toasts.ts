// Short notices after an action ("User ana created."), read out by screen readers through a live region.
import { useEffect, useState } from 'preact/hooks';

export interface Toast {
  id: number;
  text: string;
  kind: 'ok' | 'error';
}

let next = 1;
let current: Toast[] = [];
const listeners = new Set<(t: Toast[]) => void>();

function publish(list: Toast[]): void {
  current = list;
  for (const l of listeners) l(current);
}

export function toast(text: string, kind: Toast['kind'] = 'ok'): void {
  const item = { id: next++, text, kind };
  publish([...current, item].slice(-4));
  // Errors stay until dismissed: a person may need to read them twice.
  if (kind === 'ok') setTimeout(() => dismiss(item.id), 6000);
}

export function dismiss(id: number): void {
  publish(current.filter((t) => t.id !== id));
}

export function useToasts(): Toast[] {
  const [list, setList] = useState(current);
  useEffect(() => {
    listeners.add(setList);
    return () => void listeners.delete(setList);
  }, []);
  return list;
}
