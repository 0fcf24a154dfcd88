/**
 * A strict reader for the small part of YAML that docker-compose.yml uses, because the
 * project has no YAML parser among its dependencies: block mappings and sequences by
 * indentation, `#` comments, plain, 'single'- and "double"-quoted scalars, flow
 * sequences written as JSON arrays (["CMD", "redis-cli", "ping"]), and anchors on block
 * mappings (`key: &name` followed by the block) used by an alias value (`key: *name`) or
 * merged (`<<: *name`; the mapping's own keys win, as YAML's merge key says). Everything
 * else (anchors on scalars, tags, block scalars, flow mappings, multi-line scalars, tabs)
 * throws naming the line, so a file outside the subset fails loudly instead of being
 * read wrong. Scalars stay strings; an empty value is null.
 */
export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  n: number;
  indent: number;
  text: string;
}

function stripComment(raw: string): string {
  let quote: string | undefined;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(raw[i - 1]!))) return raw.slice(0, i);
  }
  return raw;
}

function scalar(text: string, n: number): YamlValue {
  const t = text.trim();
  if (t === '' || t === '~' || t === 'null') return null;
  if (t.startsWith('[')) {
    try {
      const arr: unknown = JSON.parse(t);
      if (Array.isArray(arr) && arr.every((x) => typeof x === 'string')) return arr as string[];
    } catch {
      // reported below
    }
    throw new Error(`line ${n}: only JSON arrays of strings are supported as flow sequences`);
  }
  if (t.startsWith('"')) return JSON.parse(t) as string;
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw new Error(`line ${n}: unterminated single-quoted scalar`);
    return t.slice(1, -1).replaceAll("''", "'");
  }
  if (/^[&*!|>{%@`]/.test(t)) throw new Error(`line ${n}: "${t[0]}" is outside the supported YAML subset`);
  return t;
}

/** Split "key: value" (the key plain or quoted); undefined when the line is no mapping entry. */
function keyValue(text: string): [string, string] | undefined {
  const m = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^\s"'#:][^:]*?)\s*:(?:\s+(.*))?$/.exec(text);
  if (!m) return undefined;
  const key = m[1]!.startsWith('"')
    ? (JSON.parse(m[1]!) as string)
    : m[1]!.startsWith("'")
      ? m[1]!.slice(1, -1)
      : m[1]!;
  return [key, m[2] ?? ''];
}

export function parseYamlSubset(source: string): YamlValue {
  const lines: Line[] = [];
  source.split('\n').forEach((raw, i) => {
    if (raw.includes('\t')) throw new Error(`line ${i + 1}: tabs are not supported`);
    const text = stripComment(raw).trimEnd();
    if (text.trim() === '' || text.trim() === '---') return;
    lines.push({ n: i + 1, indent: text.length - text.trimStart().length, text: text.trim() });
  });
  let pos = 0;
  const anchors = new Map<string, YamlValue>();
  const alias = (value: string, n: number): YamlValue | undefined => {
    const m = /^\*([A-Za-z0-9_-]+)$/.exec(value.trim());
    if (!m) return undefined;
    if (!anchors.has(m[1]!)) throw new Error(`line ${n}: unknown alias *${m[1]}`);
    return anchors.get(m[1]!)!;
  };

  function block(indent: number): YamlValue {
    const first = lines[pos];
    if (!first || first.indent < indent) return null;
    if (first.text === '-' || first.text.startsWith('- ')) {
      const items: YamlValue[] = [];
      while (
        pos < lines.length &&
        lines[pos]!.indent === first.indent &&
        (lines[pos]!.text === '-' || lines[pos]!.text.startsWith('- '))
      ) {
        const line = lines[pos++]!;
        const rest = line.text.slice(1).trim();
        if (rest === '') items.push(block(first.indent + 1));
        else if (keyValue(rest))
          throw new Error(`line ${line.n}: mappings inside sequence items are outside the supported subset`);
        else items.push(scalar(rest, line.n));
      }
      return items;
    }
    const map: { [key: string]: YamlValue } = {};
    const merged: Array<{ [key: string]: YamlValue }> = [];
    while (pos < lines.length && lines[pos]!.indent === first.indent) {
      const line = lines[pos++]!;
      const kv = keyValue(line.text);
      if (!kv) throw new Error(`line ${line.n}: expected "key: value", got ${JSON.stringify(line.text)}`);
      const [key, value] = kv;
      if (key in map) throw new Error(`line ${line.n}: duplicate key ${JSON.stringify(key)}`);
      const next = lines[pos];
      const anchor = /^&([A-Za-z0-9_-]+)$/.exec(value.trim());
      const aliased = alias(value, line.n);
      if (key === '<<') {
        if (!aliased || typeof aliased !== 'object' || Array.isArray(aliased))
          throw new Error(`line ${line.n}: "<<" merges an alias of a mapping only`);
        merged.push(aliased);
      } else if (aliased !== undefined) map[key] = aliased;
      else if (anchor && next && next.indent > first.indent) {
        const v = block(next.indent);
        anchors.set(anchor[1]!, v);
        map[key] = v;
      } else if (value === '' && next && next.indent > first.indent) map[key] = block(next.indent);
      // A sequence may sit at its key's indentation (compose files often do so).
      else if (value === '' && next && next.indent === first.indent && next.text.startsWith('- '))
        map[key] = block(next.indent);
      else map[key] = scalar(value, line.n);
    }
    if (pos < lines.length && lines[pos]!.indent > first.indent)
      throw new Error(`line ${lines[pos]!.n}: unexpected indentation`);
    for (const m of merged) for (const [k, v] of Object.entries(m)) if (!(k in map)) map[k] = v;
    return map;
  }

  const root = block(0);
  if (pos < lines.length) throw new Error(`line ${lines[pos]!.n}: unexpected indentation`);
  return root;
}
