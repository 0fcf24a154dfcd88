// EXPLAIN (ANALYZE, FORMAT JSON) for the index tests: the plan's nodes flattened, and
// the figures those tests read from them.
import pg from 'pg';

export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

/**
 * Every node of `sql`'s executed plan, run in a transaction rolled back after (a DELETE
 * explained deletes nothing for good); `before` runs first in the same transaction.
 */
export async function explainAnalyze(url: string, sql: string, params: unknown[], before = ''): Promise<PlanNode[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    if (before) await c.query(before);
    const res = await c.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
    return nodes((res.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    await c.end();
  }
}

/** The plan in one line, for assertion messages: node type, index or relation, rows. */
export const describePlan = (all: PlanNode[]) =>
  JSON.stringify(all.map((n) => [n['Node Type'], n['Index Name'] ?? n['Relation Name'], n['Actual Rows']]));

/** Rows a node produced over all its loops. */
export const rowsOf = (n: PlanNode) => (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1);
