// Runs one SQL statement with DuckDB and prints the rows as JSON lines: an independent reader of exported Parquet.
// Usage: node scripts/duckdb.mjs "select personalEmail.address from read_parquet('out/*.parquet', union_by_name = true)"
import { DuckDBInstance } from '@duckdb/node-api';

const sql = process.argv[2];
if (!sql) {
  console.error('usage: node scripts/duckdb.mjs "<SQL>"');
  process.exit(2);
}
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
const reader = await connection.runAndReadAll(sql);
for (const row of reader.getRowObjectsJson()) console.log(JSON.stringify(row));
