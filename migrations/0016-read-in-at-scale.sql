-- Read-in at scale (issue 20): the indexes the read paths and the blob bookkeeping need on a history
-- of a million packets among ten thousand models.
--
-- A person's models, in id order from a cursor (GET /api/v1/models): the members index by person
-- alone made every page read all of the person's memberships and sort them; with the model id
-- (and the role, so the index covers the query) a page is one range scan that stops at its limit.
CREATE INDEX model_members_by_person_model ON model_members (person_id, model_id, role);
DROP INDEX model_members_by_person;

-- Which packet or baseline holds a blob: the foreign keys from packets and baselines to blobs are
-- checked on every blob row deleted (history retention, purges), and `blobs verify` names the model
-- of a damaged blob. Without these, each was a scan of every packet.
CREATE INDEX packets_by_blob ON packets (blob_id);
CREATE INDEX baselines_by_blob ON baselines (blob_id);
