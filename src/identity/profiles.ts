/**
 * The profiles table: what a person tells about themselves beyond the provider's claims. The fields
 * are sealed as one value and the picture as another, both bound to the person's row.
 */
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';

/** The editable fields; absent ones are not set. */
export interface ProfileFields {
  first_name?: string | undefined;
  last_name?: string | undefined;
  display_name?: string | undefined;
  country?: string | undefined;
  preferred_language?: string | undefined;
  organization?: string | undefined;
  job_title?: string | undefined;
  phone?: string | undefined;
  about_me?: string | undefined;
}

export interface Picture {
  type: string;
  /** The image, base64. */
  data: string;
}

export interface Profile {
  fields: ProfileFields;
  picture: Picture | null;
  updatedAt: string | null;
}

interface ProfileRow {
  fields_sealed: Buffer;
  picture_sealed: Buffer | null;
  updated_at: string;
}

export class Profiles {
  readonly #keys: Keyring;
  readonly #clock: Clock;
  readonly #keyId: string;
  readonly #sql;

  constructor(db: Db, keys: Keyring, clock: Clock) {
    this.#keys = keys;
    this.#clock = clock;
    this.#keyId = keys.singleton('personal');
    this.#sql = {
      get: db.prepare<[string], ProfileRow>('SELECT fields_sealed, picture_sealed, updated_at FROM profiles WHERE person_id = ?'),
      upsert: db.prepare(
        `INSERT INTO profiles (person_id, fields_sealed, picture_sealed, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (person_id) DO UPDATE SET fields_sealed = excluded.fields_sealed, picture_sealed = excluded.picture_sealed, updated_at = excluded.updated_at`,
      ),
      delete: db.prepare('DELETE FROM profiles WHERE person_id = ?'),
    };
  }

  get(personId: string): Profile {
    const row = this.#sql.get.get(personId);
    if (!row) return { fields: {}, picture: null, updatedAt: null };
    const place = (column: string) => ({ table: 'profiles', column, row: personId });
    return {
      fields: JSON.parse(openText(this.#keys, place('fields'), row.fields_sealed)) as ProfileFields,
      picture: row.picture_sealed ? (JSON.parse(openText(this.#keys, place('picture'), row.picture_sealed)) as Picture) : null,
      updatedAt: row.updated_at,
    };
  }

  /** Applies changes: a field set to null is removed, an absent one is kept; likewise the picture. */
  update(personId: string, changes: { [K in keyof ProfileFields]?: string | null }, picture: Picture | null | undefined): Profile {
    const current = this.get(personId);
    const fields: Record<string, string> = { ...(current.fields as Record<string, string>) };
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) delete fields[key];
      else if (value !== undefined) fields[key] = value;
    }
    const nextPicture = picture === undefined ? current.picture : picture;
    const place = (column: string) => ({ table: 'profiles', column, row: personId });
    this.#sql.upsert.run(
      personId,
      seal(this.#keys, this.#keyId, place('fields'), JSON.stringify(fields)),
      nextPicture ? seal(this.#keys, this.#keyId, place('picture'), JSON.stringify(nextPicture)) : null,
      this.#clock.now().toISOString(),
    );
    return this.get(personId);
  }

  /** Erase: the profile goes. */
  remove(personId: string): void {
    this.#sql.delete.run(personId);
  }
}
