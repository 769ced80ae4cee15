/**
 * Holds answers seen in a test to the server's OpenAPI document: each JSON (or problem) body must
 * match the schema the document gives for that operation and status, and the status itself must be
 * documented. Compiled with ajv's JSON Schema 2020-12 dialect, the dialect of OpenAPI 3.1.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

type Json = Record<string, any>;

export interface ContractChecker {
  /** Checks one answer; returns the problems found (none when it matches). */
  check(method: string, url: string, status: number, contentType: string, body: unknown): string[];
  /** Every problem found so far, and how many answers were checked. */
  failures: string[];
  checked: number;
}

/**
 * Compiles the schemas of one document: each response schema on its own, its references into
 * components resolved against a small schema holding only the components (compiling through the
 * whole document would compile it again for each).
 */
export function schemaCompiler(document: Json): (schema: Json) => ValidateFunction {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema({ components: document['components'] }, 'openapi.json');
  const cache = new Map<Json, ValidateFunction>();
  return (schema) => {
    let validate = cache.get(schema);
    if (!validate) {
      validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi.json#/components/')) as Json);
      cache.set(schema, validate);
    }
    return validate;
  };
}

export function contractChecker(document: Json): ContractChecker {
  const compile = schemaCompiler(document);
  const templates = Object.keys(document['paths'] as Json).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+').replaceAll('.', '\\.')}$`),
  }));
  const state: ContractChecker = {
    failures: [],
    checked: 0,
    check(method, url, status, contentType, body) {
      const path = new URL(url, 'https://x').pathname;
      // The most specific template wins: /models/{id}/baselines/latest is /baselines/{seq}.
      const found = templates.filter((t) => t.pattern.test(path)).sort((a, b) => a.template.split('{').length - b.template.split('{').length)[0];
      const problems: string[] = [];
      const operation = found && (document['paths'][found.template] as Json)[method.toLowerCase()];
      if (!found || !operation) problems.push(`${method} ${path} is not in the document`);
      else {
        const response = operation['responses'][String(status)];
        if (!response && !(status === 206 || status === 304)) problems.push(`${method} ${found.template} answered ${status}, which the document does not list`);
        const media = contentType.split(';')[0]!.trim();
        if (response?.content && body !== undefined && /json/.test(media)) {
          const content = response.content[media];
          if (!content) problems.push(`${method} ${found.template} ${status}: the document has no ${media}`);
          else {
            const validate = compile(content.schema as Json);
            state.checked++;
            if (!validate(body)) problems.push(`${method} ${found.template} ${status}: ${JSON.stringify(validate.errors)} in ${JSON.stringify(body).slice(0, 400)}`);
          }
        }
      }
      state.failures.push(...problems);
      return problems;
    },
  };
  return state;
}
