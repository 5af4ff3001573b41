/** Local storage for the app: IndexedDB through `idb`, localStorage only where IndexedDB is missing. */
import { openDB, type IDBPDatabase } from 'idb';

/** queue: progress items and answers until the server has them; kv: config, sessions, marks;
 * packages: downloaded test packages with their ETag; remote: progress read back from the server. */
export const TABLES = { queue: 'id', kv: 'k', packages: 'package_id', remote: 'id' } as const;
export type Table = keyof typeof TABLES;

export interface Store {
  get<T>(table: Table, key: string): Promise<T | undefined>;
  all<T>(table: Table): Promise<T[]>;
  /** Writes every value or none (one IndexedDB transaction). */
  putMany(table: Table, values: object[]): Promise<void>;
  delete(table: Table, key: string): Promise<void>;
  close(): void;
}

const DB_VERSION = 1;

class IdbStore implements Store {
  constructor(private readonly db: IDBPDatabase) {}
  get<T>(table: Table, key: string): Promise<T | undefined> {
    return this.db.get(table, key) as Promise<T | undefined>;
  }
  all<T>(table: Table): Promise<T[]> {
    return this.db.getAll(table) as Promise<T[]>;
  }
  async putMany(table: Table, values: object[]): Promise<void> {
    const tx = this.db.transaction(table, 'readwrite');
    await Promise.all([...values.map((v) => tx.store.put(v)), tx.done]);
  }
  delete(table: Table, key: string): Promise<void> {
    return this.db.delete(table, key);
  }
  close(): void {
    this.db.close();
  }
}

/** One localStorage entry per record, so two tabs writing different records never overwrite each other. */
class LocalStore implements Store {
  constructor(private readonly prefix: string, private readonly ls: Storage) {}
  private entry(table: Table, key: string): string {
    return `${this.prefix}:${table}:${key}`;
  }
  async get<T>(table: Table, key: string): Promise<T | undefined> {
    const text = this.ls.getItem(this.entry(table, key));
    return text === null ? undefined : (JSON.parse(text) as T);
  }
  async all<T>(table: Table): Promise<T[]> {
    const start = `${this.prefix}:${table}:`;
    const out: T[] = [];
    for (let i = 0; i < this.ls.length; i++) {
      const name = this.ls.key(i);
      if (name?.startsWith(start)) out.push(JSON.parse(this.ls.getItem(name)!) as T);
    }
    return out;
  }
  async putMany(table: Table, values: object[]): Promise<void> {
    const field = TABLES[table];
    // Serialise everything first: a value that cannot be stored fails before anything is written.
    const entries = values.map((v) => [this.entry(table, String((v as Record<string, unknown>)[field])), JSON.stringify(v)]);
    for (const [name, text] of entries) this.ls.setItem(name, text);
  }
  async delete(table: Table, key: string): Promise<void> {
    this.ls.removeItem(this.entry(table, key));
  }
  close(): void {}
}

export async function openStore(name = 'studysync'): Promise<Store> {
  if (typeof indexedDB !== 'undefined') {
    try {
      const db = await openDB(name, DB_VERSION, {
        upgrade(db) {
          for (const [table, keyPath] of Object.entries(TABLES)) {
            if (!db.objectStoreNames.contains(table)) db.createObjectStore(table, { keyPath });
          }
        },
      });
      return new IdbStore(db);
    } catch (error) {
      // Some private modes expose indexedDB but refuse to open it: fall back rather than lose data.
      if (typeof localStorage === 'undefined') throw error;
    }
  }
  return new LocalStore(name, localStorage);
}
