// The export benchmark's peer: DuckDB doing the benchmark's exports on the same generated NDJSON, as a user who writes
// SQL would. Usage: node scripts/duckdb-peer.mjs DIR  (DIR holds crm.ndjson, loyalty.ndjson, preferences.ndjson and
// receives the Parquet files). Prints one JSON object: seconds and rows of each export, from the raw files and from
// tables loaded first (the load timed on its own). Each is run PEER_RUNS times (3 unless set): its seconds are the
// median, its spread the fastest and the slowest, so that one slow run of DuckDB does not make a ratio.
//
// The merge: the three datasets hold disjoint attributes of a profile, one record each, so merging a profile's
// fragments is a full outer join on its primary identity (the service's newest-wins picks nothing else here).
// The one-segment export keeps members of s1 with status realized and projects identityMap and personalEmail.address,
// as the benchmark's one-segment job does.
import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/duckdb-peer.mjs DIR');
  process.exit(2);
}
const file = name => `'${join(dir, name)}'`;
const key = 'coalesce(identityMap.email[1].id, identityMap.ecid[1].id)';
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();

const runs = Math.max(1, Number(process.env.PEER_RUNS ?? 3) || 1);

async function timedOnce(sql) {
  const start = process.hrtime.bigint();
  await connection.run(sql);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function timed(sql) {
  const seconds = [];
  for (let run = 0; run < runs; run++) seconds.push(await timedOnce(sql));
  seconds.sort((a, b) => a - b);
  return { seconds: seconds[Math.floor((seconds.length - 1) / 2)], spread: [seconds[0], seconds[seconds.length - 1]] };
}

async function rows(parquet) {
  const reader = await connection.runAndReadAll(`select count(*)::BIGINT as n from read_parquet(${file(parquet)})`);
  return Number(reader.getRowObjectsJson()[0].n);
}

function wholeStore(crm, loyalty, preferences) {
  return `select coalesce(a.identityMap, b.identityMap, c.identityMap) as identityMap,
      a.personalEmail, a.person, a.homeAddress, a.mobilePhone, b.loyalty, b.consents, b.segmentMembership, c.preferences, c.interests
    from (select *, ${key} as k from ${crm}) a
    full join (select *, ${key} as k from ${loyalty}) b on a.k = b.k
    full join (select *, ${key} as k from ${preferences}) c on coalesce(a.k, b.k) = c.k`;
}

function oneSegment(crm, loyalty) {
  return `select coalesce(a.identityMap, b.identityMap) as identityMap, struct_pack(address := a.personalEmail.address) as personalEmail
    from (select identityMap, personalEmail, ${key} as k from ${crm}) a
    right join (select identityMap, ${key} as k from ${loyalty} where segmentMembership.ups.s1.status = 'realized') b on a.k = b.k`;
}

// A segment job's memberships: the realized members of "loyalty.points >= 50000", by identity (the service records
// them per shard; the peer writes them as one file).
function segmentMembers(loyalty) {
  return `select ${key} as id, 'realized' as status from ${loyalty} where loyalty.points >= 50000`;
}

async function exportTo(select, parquet) {
  const time = await timed(`copy (${select}) to ${file(parquet)} (format parquet)`);
  return { ...time, rows: await rows(parquet) };
}

const raw = name => `read_ndjson(${file(name + '.ndjson')})`;
const result = {};
result.rawWholeStore = await exportTo(wholeStore(raw('crm'), raw('loyalty'), raw('preferences')), 'peer-raw-all.parquet');
result.rawOneSegment = await exportTo(oneSegment(raw('crm'), raw('loyalty')), 'peer-raw-s1.parquet');
result.rawSegmentJob = await exportTo(segmentMembers(raw('loyalty')), 'peer-raw-members.parquet');
result.load = await timed(['crm', 'loyalty', 'preferences'].map(t => `create or replace table ${t} as select * from ${raw(t)};`).join('\n'));
result.tableWholeStore = await exportTo(wholeStore('crm', 'loyalty', 'preferences'), 'peer-table-all.parquet');
result.tableOneSegment = await exportTo(oneSegment('crm', 'loyalty'), 'peer-table-s1.parquet');
result.tableSegmentJob = await exportTo(segmentMembers('loyalty'), 'peer-table-members.parquet');
console.log(JSON.stringify(result));
