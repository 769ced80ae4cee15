/**
 * The sharing domain's part of a person's data: what `GET /api/v1/me/export` shows of it, and what
 * an erase removes. Packets and baselines stay (they are the firm's model) and keep the author id,
 * which then reads "former member"; an erased owner's models wait for an organization admin to re-own.
 */
import type { Keyring } from '../crypto/keyring.ts';
import type { Db } from '../db/open.ts';
import { emailIndex, type People } from '../identity/people.ts';
import type { PersonalDataSource } from '../privacy/service.ts';

export function sharingPersonalData(db: Db, keys: Keyring, people: People): PersonalDataSource {
  const sql = {
    memberships: db.prepare<[string], { model_id: string; role: string; added_at: string }>('SELECT model_id, role, added_at FROM model_members WHERE person_id = ? ORDER BY added_at'),
    packets: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM packets WHERE author_id = ?'),
    invitations: db.prepare<[Buffer], { id: string; model_id: string; role: string; status: string; created_at: string }>(
      'SELECT id, model_id, role, status, created_at FROM model_invitations WHERE email_index = ? ORDER BY created_at',
    ),
    deleteInvitations: db.prepare('DELETE FROM model_invitations WHERE email_index = ?'),
    leaveModels: db.prepare("DELETE FROM model_members WHERE person_id = ? AND role <> 'owner'"),
  };
  const indexOf = (personId: string) => {
    const email = people.get(personId)?.email;
    return email ? emailIndex(keys, email) : undefined;
  };
  return {
    name: 'models',
    exportFor(personId) {
      const index = indexOf(personId);
      return {
        memberships: sql.memberships.all(personId),
        packets_written: sql.packets.get(personId)!.n,
        invitations_received: index ? sql.invitations.all(index) : [],
      };
    },
    erase(personId) {
      const index = indexOf(personId);
      if (index) sql.deleteInvitations.run(index);
      sql.leaveModels.run(personId);
    },
  };
}
