/**
 * JSON Schema → GBNF, for the subset OpenAI's structured outputs and llama.cpp's json-schema-to-grammar accept:
 * `type` (one or a list), `properties` / `required` / `additionalProperties`, `enum`, `const`, `items` /
 * `minItems` / `maxItems`, `anyOf`, `minLength` / `maxLength`, `pattern`, `format` (date, time, date-time, uuid),
 * local `$ref` into `$defs` / `definitions`. Annotations (title, description, examples, ...) are ignored; any other
 * keyword is INVALID_ARGUMENT naming it — never silently dropped, since the output would then not be what the schema
 * promises.
 *
 * The grammar produces a subset of what the schema allows: properties in the order declared, no properties beyond
 * the declared ones when there are any, numbers of at most 16 digits in each part, bounded whitespace. Any output
 * therefore validates against the schema.
 */
import { invalidArgument } from '../errors/index.js';
import { GRAMMAR_LIMITS } from './gbnf.js';
import { gbnfLiteral, regexToGbnf } from './regex.js';

const ANNOTATIONS = new Set(['title', 'description', '$schema', '$id', '$comment', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly', '$defs', 'definitions', 'strict']);
const KEYWORDS = new Set(['type', 'properties', 'required', 'additionalProperties', 'enum', 'const', 'items', 'minItems', 'maxItems', 'anyOf', 'minLength', 'maxLength', 'pattern', 'format', '$ref']);
const MAX_SCHEMA_NODES = 10_000;
const MAX_SCHEMA_DEPTH = 64;

// JSON text outside strings, as in llama.cpp's json-schema-to-grammar (bounded so a model cannot pad forever).
const BASE = `ws ::= | " " | "\\n" [ \\t]{0,20}
json-char ::= [^"\\\\\\x00-\\x1f] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4})
json-string ::= "\\"" json-char* "\\""
json-integer ::= "-"? ("0" | [1-9] [0-9]{0,15})
json-number ::= json-integer ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,16})?
json-boolean ::= "true" | "false"
json-null ::= "null"
json-value ::= json-object | json-array | json-string | json-number | json-boolean | json-null
json-object ::= "{" ws ( json-string ws ":" ws json-value ws ( "," ws json-string ws ":" ws json-value ws )* )? "}"
json-array ::= "[" ws ( json-value ws ( "," ws json-value ws )* )? "]"
`;

const FORMATS: Record<string, string> = {
  date: '[0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01])',
  time: '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])',
  uuid: '[0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}',
};
FORMATS['date-time'] = `${FORMATS.date!} "T" ${FORMATS.time!}`;

/** The GBNF of any JSON object (JSON mode). */
export function jsonObjectGrammar(): string {
  return `root ::= json-object\n${BASE}`;
}

/** The GBNF for `schema` (an object, `true`); `field` prefixes the paths in errors (`response_format.schema`). */
export function jsonSchemaToGbnf(schema: unknown, field = 'json_schema'): string {
  const rules: string[] = [];
  const defRules = new Map<string, string>();
  let nodes = 0;
  let n = 0;
  const fresh = (body: string): string => {
    const name = `s${++n}`;
    rules.push(`${name} ::= ${body}`);
    return name;
  };
  const bad = (path: string, problem: string): never => {
    throw invalidArgument(path, problem);
  };
  const count = (path: string, v: unknown, max: number): number => {
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > max) bad(path, `must be an integer in [0, ${max}]`);
    return v as number;
  };

  let depth = 0;
  // Each level of nesting is a few JS frames here (a recursive schema goes through $defs: rules, not recursion).
  const visit = (s: unknown, path: string): string => {
    if (depth >= MAX_SCHEMA_DEPTH) bad(path, `nests deeper than ${MAX_SCHEMA_DEPTH} levels`);
    depth++;
    try {
      return visitNode(s, path);
    } finally {
      depth--;
    }
  };
  const visitNode = (s: unknown, path: string): string => {
    if (++nodes > MAX_SCHEMA_NODES) bad(field, `has more than ${MAX_SCHEMA_NODES} subschemas`);
    if (s === true) return 'json-value';
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return bad(path, 'must be a schema object or true');
    const o = s as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!KEYWORDS.has(key) && !ANNOTATIONS.has(key)) bad(`${path}.${key}`, `the JSON Schema keyword '${key}' is not supported`);
    }
    if (o.$ref !== undefined) {
      if (Object.keys(o).some((k) => KEYWORDS.has(k) && k !== '$ref')) bad(`${path}.$ref`, 'beside other keywords is not supported');
      return ref(o.$ref, `${path}.$ref`);
    }
    if (o.const !== undefined) return gbnfLiteral(JSON.stringify(o.const));
    if (o.enum !== undefined) {
      if (!Array.isArray(o.enum) || o.enum.length === 0) bad(`${path}.enum`, 'must be a non-empty list');
      return `(${(o.enum as unknown[]).map((v) => gbnfLiteral(JSON.stringify(v))).join(' | ')})`;
    }
    if (o.anyOf !== undefined) {
      if (!Array.isArray(o.anyOf) || o.anyOf.length === 0) bad(`${path}.anyOf`, 'must be a non-empty list');
      if (o.type !== undefined) bad(`${path}.anyOf`, "beside 'type' is not supported");
      return `(${(o.anyOf as unknown[]).map((sub, i) => visit(sub, `${path}.anyOf[${i}]`)).join(' | ')})`;
    }
    let types: unknown[];
    if (o.type === undefined) types = o.properties !== undefined ? ['object'] : o.items !== undefined ? ['array'] : [];
    else types = Array.isArray(o.type) ? o.type : [o.type];
    if (types.length === 0) return 'json-value';
    return `(${types.map((t) => typed(o, t, path)).join(' | ')})`;
  };

  const typed = (o: Record<string, unknown>, t: unknown, path: string): string => {
    switch (t) {
      case 'null':
        return 'json-null';
      case 'boolean':
        return 'json-boolean';
      case 'integer':
        return 'json-integer';
      case 'number':
        return 'json-number';
      case 'string':
        return stringRule(o, path);
      case 'array':
        return arrayRule(o, path);
      case 'object':
        return objectRule(o, path);
      default:
        return bad(`${path}.type`, `'${String(t)}' is not a JSON Schema type`);
    }
  };

  const stringRule = (o: Record<string, unknown>, path: string): string => {
    const constraints = ['pattern', 'format', 'minLength', 'maxLength'].filter((k) => o[k] !== undefined);
    if (o.pattern !== undefined) {
      if (constraints.length > 1) bad(`${path}.pattern`, `beside ${constraints.filter((k) => k !== 'pattern').join(', ')} is not supported`);
      // Quote, backslash and control characters never come from `.` or negated classes, so the text between the
      // quotes is the string's value unescaped.
      return `"\\"" ${regexToGbnf(o.pattern as string, `${path}.pattern`, '"\\\\\\x00-\\x1f')} "\\""`;
    }
    if (o.format !== undefined) {
      const f = FORMATS[o.format as string];
      if (f === undefined || constraints.length > 1) bad(`${path}.format`, `'${String(o.format)}' is not supported (${Object.keys(FORMATS).join(', ')}; alone)`);
      return `"\\"" ${f!} "\\""`;
    }
    if (o.minLength === undefined && o.maxLength === undefined) return 'json-string';
    const min = o.minLength === undefined ? 0 : count(`${path}.minLength`, o.minLength, GRAMMAR_LIMITS.maxRepeat);
    const max = o.maxLength === undefined ? '' : count(`${path}.maxLength`, o.maxLength, GRAMMAR_LIMITS.maxRepeat);
    if (max !== '' && max < min) bad(`${path}.maxLength`, 'is below minLength');
    return `"\\"" json-char{${min},${max}} "\\""`;
  };

  const arrayRule = (o: Record<string, unknown>, path: string): string => {
    const item = o.items === undefined ? 'json-value' : visit(o.items, `${path}.items`);
    const min = o.minItems === undefined ? 0 : count(`${path}.minItems`, o.minItems, GRAMMAR_LIMITS.maxRepeat);
    const max = o.maxItems === undefined ? undefined : count(`${path}.maxItems`, o.maxItems, GRAMMAR_LIMITS.maxRepeat);
    if (max !== undefined && max < min) bad(`${path}.maxItems`, 'is below minItems');
    const el = fresh(item);
    if (max === 0) return '"[" ws "]"';
    const more = `("," ws ${el} ws){${Math.max(min - 1, 0)},${max === undefined ? '' : max - 1}}`;
    const body = `${el} ws ${more}`;
    return `"[" ws ${min === 0 ? `(${body})?` : body} "]"`;
  };

  const objectRule = (o: Record<string, unknown>, path: string): string => {
    const props = o.properties ?? {};
    if (typeof props !== 'object' || props === null || Array.isArray(props)) return bad(`${path}.properties`, 'must be an object');
    const required = o.required ?? [];
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) bad(`${path}.required`, 'must be a list of strings');
    const names = Object.keys(props);
    for (const r of required as string[]) if (!names.includes(r)) bad(`${path}.required`, `names '${r}', which is not in properties`);
    const extra = o.additionalProperties;
    if (extra !== undefined && typeof extra !== 'boolean' && (typeof extra !== 'object' || extra === null)) bad(`${path}.additionalProperties`, 'must be a boolean or a schema');
    if (names.length === 0) {
      // A map: any keys, each value of `additionalProperties` (absent or true: any JSON).
      if (extra === false) return '"{" ws "}"';
      const value = extra === undefined || extra === true ? 'json-value' : visit(extra, `${path}.additionalProperties`);
      const kv = fresh(`json-string ws ":" ws ${value}`);
      return `"{" ws (${kv} ws ("," ws ${kv} ws)*)? "}"`;
    }
    if (extra !== undefined && extra !== false) visit(extra, `${path}.additionalProperties`); // still checked
    const kvs = names.map((name) => fresh(`${gbnfLiteral(JSON.stringify(name))} ws ":" ws ${visit((props as Record<string, unknown>)[name], `${path}.properties.${name}`)}`));
    const isRequired = names.map((name) => (required as string[]).includes(name));
    // after[i]: properties i.. once one was written (each behind a comma); first[i]: none written yet.
    let after = '""';
    let first = '""';
    for (let i = names.length - 1; i >= 0; i--) {
      const kv = kvs[i]!;
      const afterNext = fresh(after);
      const firstNext = fresh(first);
      after = isRequired[i] ? `"," ws ${kv} ws ${afterNext}` : `("," ws ${kv} ws)? ${afterNext}`;
      first = isRequired[i] ? `${kv} ws ${afterNext}` : `${kv} ws ${afterNext} | ${firstNext}`;
    }
    return `"{" ws ${fresh(first)} "}"`;
  };

  const ref = (target: unknown, path: string): string => {
    if (typeof target !== 'string') return bad(path, 'must be a string');
    const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(target);
    if (!m) return bad(path, `'${target}' is not supported (only #/$defs/NAME and #/definitions/NAME)`);
    const known = defRules.get(target);
    if (known) return known;
    const defs = (schema as Record<string, unknown>)[m[1]!];
    const def = typeof defs === 'object' && defs !== null ? (defs as Record<string, unknown>)[m[2]!] : undefined;
    if (def === undefined) return bad(path, `'${target}' is not defined`);
    const name = `d${defRules.size + 1}`;
    defRules.set(target, name); // before visiting: a recursive schema refers to itself by this name
    const placeholder = rules.length;
    rules.push('');
    rules[placeholder] = `${name} ::= ${visit(def, `${field}.${m[1]!}.${m[2]!}`)}`;
    return name;
  };

  const root = visit(schema, field);
  return `root ::= ${root}\n${rules.join('\n')}\n${BASE}`;
}
