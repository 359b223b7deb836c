/**
 * A durable oidc-provider adapter on top of JsonState, so grants, refresh
 * tokens, sessions and registered clients survive a sandbox restart.
 * Expired entries are dropped lazily on read and on write.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { JsonState } from './json-state.js';

interface Entry {
  payload: AdapterPayload;
  expiresAt?: number; // epoch ms
}
type Doc = Record<string, Record<string, Entry>>; // model name → id → entry

export function createAdapterFactory(file: string | undefined): (name: string) => Adapter {
  const state = new JsonState<Doc>(file, () => ({}));
  const live = (e: Entry | undefined): e is Entry => !!e && (e.expiresAt === undefined || e.expiresAt > Date.now());

  return (name: string): Adapter => {
    const table = (): Record<string, Entry> => state.data[name] ?? {};
    const findBy = (pred: (p: AdapterPayload) => boolean): AdapterPayload | undefined => {
      for (const e of Object.values(table())) if (live(e) && pred(e.payload)) return structuredClone(e.payload);
      return undefined;
    };
    return {
      async upsert(id, payload, expiresIn) {
        await state.update((d) => {
          const t = (d[name] ??= {});
          for (const [k, e] of Object.entries(t)) if (!live(e)) delete t[k];
          t[id] = { payload: structuredClone(payload), ...(expiresIn ? { expiresAt: Date.now() + expiresIn * 1000 } : {}) };
        });
      },
      async find(id) {
        const e = table()[id];
        return live(e) ? structuredClone(e.payload) : undefined;
      },
      async findByUserCode(userCode) {
        return findBy((p) => p.userCode === userCode);
      },
      async findByUid(uid) {
        return findBy((p) => p.uid === uid);
      },
      async consume(id) {
        await state.update((d) => {
          const e = d[name]?.[id];
          if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
        });
      },
      async destroy(id) {
        await state.update((d) => {
          delete d[name]?.[id];
        });
      },
      async revokeByGrantId(grantId) {
        await state.update((d) => {
          const t = d[name];
          if (!t) return;
          for (const [k, e] of Object.entries(t)) if (e.payload.grantId === grantId) delete t[k];
        });
      },
    };
  };
}
