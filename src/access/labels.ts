import { ValidationError } from '../errors.js';

/**
 * Confidentiality labels shaped like STANAG 4774 (ADatP-4774): a policy identifier, a classification
 * on the ordered scale that policy defines, and categories. A permissive category ("Releasable To",
 * organisation codes) is satisfied by holding at least one of its values; a restrictive category
 * (caveats) by holding all of them; informative categories are carried and rendered, not enforced.
 *
 * Items carry their label as the property `sarbridge:label`, collections as a top-level member of the
 * same name: `{ "policy": "NATO", "classification": "RESTRICTED", "categories": [{ "tagName":
 * "Releasable To", "type": "permissive", "values": ["GBR", "NATO"] }] }`.
 */
export interface ConfidentialityLabel {
  policy: string;
  classification: string;
  categories: LabelCategory[];
}

export interface LabelCategory {
  tagName: string;
  type: 'permissive' | 'restrictive' | 'informative';
  values: string[];
}

/** The member name of the label in item properties and in collection documents. */
export const LABEL_FIELD = 'sarbridge:label';
/** The item property holding an archive hold: the item is visible to partners from this time on. */
export const RELEASE_FIELD = 'sarbridge:release_datetime';
/** The one permissive category whose values are organisation releasability codes. */
export const RELEASABLE_TO = 'Releasable To';

/** A labelling policy: its classification scale (lowest first) and the categories it defines. */
export interface LabelPolicy {
  id: string;
  classifications: string[];
  categories: { tagName: string; type: LabelCategory['type']; values?: string[] }[];
}

/** NATO's scale with "Releasable To" and a restrictive caveat category of the provider's. */
export const DEFAULT_POLICIES: LabelPolicy[] = [
  {
    id: 'NATO',
    classifications: ['UNCLASSIFIED', 'RESTRICTED', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET'],
    categories: [
      { tagName: RELEASABLE_TO, type: 'permissive' },
      { tagName: 'Caveat', type: 'restrictive' },
      { tagName: 'Administrative', type: 'informative' },
    ],
  },
];

/** ISO 3166 alpha-3 country codes and tetragraphs such as NATO or FVEY. */
export const ORG_CODE = /^[A-Z]{3,4}$/;
const VALUE = /^[A-Za-z0-9][A-Za-z0-9 _./-]{0,63}$/;

/** The label rules of a set of policies: validation, rank of a classification, combination. */
export class LabelRules {
  private readonly byId: Map<string, LabelPolicy>;

  constructor(readonly policies: LabelPolicy[] = DEFAULT_POLICIES) {
    this.byId = new Map(policies.map((p) => [p.id, p]));
  }

  policy(id: string, field = 'policy'): LabelPolicy {
    const p = this.byId.get(id);
    if (!p)
      throw new ValidationError(
        `${field}: unknown policy '${id}' (known: ${[...this.byId.keys()].join(', ')})`,
      );
    return p;
  }

  /** The rank of a classification on its policy's scale (0 = lowest). */
  rank(policyId: string, classification: string, field = 'classification'): number {
    const p = this.policy(policyId);
    const r = p.classifications.indexOf(classification);
    if (r < 0)
      throw new ValidationError(
        `${field}: unknown classification '${classification}' of policy ${policyId} (expected one of ${p.classifications.join(', ')})`,
      );
    return r;
  }

  /**
   * Check a label and return it in canonical form (categories ordered by tag name, values sorted and
   * unique, empty categories dropped). `field` names the member in errors, e.g.
   * "/properties/sarbridge:label".
   */
  parse(v: unknown, field: string): ConfidentialityLabel {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new ValidationError(`${field}: must be an object {policy, classification, categories}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (!['policy', 'classification', 'categories'].includes(k))
        throw new ValidationError(
          `${field}/${k}: unknown member (expected policy, classification, categories)`,
        );
    if (typeof o.policy !== 'string') throw new ValidationError(`${field}/policy: must be a string`);
    const policy = this.policy(o.policy, `${field}/policy`);
    if (typeof o.classification !== 'string')
      throw new ValidationError(`${field}/classification: must be a string`);
    this.rank(policy.id, o.classification, `${field}/classification`);
    const cats = o.categories ?? [];
    if (!Array.isArray(cats) || cats.length > 16)
      throw new ValidationError(`${field}/categories: must be an array of at most 16 categories`);
    const merged = new Map<string, LabelCategory>();
    cats.forEach((c, i) => {
      const f = `${field}/categories/${i}`;
      if (typeof c !== 'object' || c === null || Array.isArray(c))
        throw new ValidationError(`${f}: must be an object {tagName, type, values}`);
      const { tagName, type, values } = c as Record<string, unknown>;
      const def = policy.categories.find((d) => d.tagName === tagName);
      if (!def)
        throw new ValidationError(
          `${f}/tagName: unknown category '${String(tagName)}' of policy ${policy.id} (expected one of ${policy.categories.map((d) => d.tagName).join(', ')})`,
        );
      if (type !== def.type)
        throw new ValidationError(
          `${f}/type: category '${def.tagName}' is ${def.type}, got '${String(type)}'`,
        );
      if (!Array.isArray(values) || values.length > 256)
        throw new ValidationError(`${f}/values: must be an array of at most 256 strings`);
      values.forEach((x, j) => {
        const ok =
          typeof x === 'string' && (def.tagName === RELEASABLE_TO ? ORG_CODE.test(x) : VALUE.test(x));
        if (!ok)
          throw new ValidationError(
            `${f}/values/${j}: '${String(x)}' is not ${def.tagName === RELEASABLE_TO ? 'an organisation code (ISO 3166 alpha-3 or a tetragraph such as NATO)' : 'a category value (letters, digits, space, _ . / -)'}`,
          );
        if (def.values && !def.values.includes(x as string))
          throw new ValidationError(
            `${f}/values/${j}: unknown value '${x}' of category '${def.tagName}' (expected one of ${def.values.join(', ')})`,
          );
      });
      const prev = merged.get(def.tagName);
      merged.set(def.tagName, {
        tagName: def.tagName,
        type: def.type,
        values: [...(prev?.values ?? []), ...(values as string[])],
      });
    });
    return canonical({
      policy: policy.id,
      classification: o.classification,
      categories: [...merged.values()],
    });
  }

  /**
   * The label of a product derived from several inputs: the most restrictive of theirs (highest
   * classification, releasable to the organisations all inputs are releasable to, every caveat).
   * A null input (provider-only) makes the result provider-only (null).
   */
  combine(labels: (ConfidentialityLabel | null)[]): ConfidentialityLabel | null {
    if (labels.length === 0 || labels.some((l) => l === null)) return null;
    const ls = labels as ConfidentialityLabel[];
    const policy = ls[0].policy;
    if (ls.some((l) => l.policy !== policy))
      throw new ValidationError(
        `labels of policies ${[...new Set(ls.map((l) => l.policy))].join(' and ')} cannot be combined`,
      );
    let top = ls[0].classification;
    for (const l of ls)
      if (this.rank(policy, l.classification) > this.rank(policy, top)) top = l.classification;
    const rel = new Set(releasableTo(ls[0]));
    for (const l of ls.slice(1)) {
      const theirs = new Set(releasableTo(l));
      for (const code of rel) if (!theirs.has(code)) rel.delete(code);
    }
    const cats = new Map<string, LabelCategory>();
    for (const l of ls)
      for (const c of l.categories) {
        if (c.tagName === RELEASABLE_TO) continue;
        const prev = cats.get(c.tagName);
        cats.set(c.tagName, { ...c, values: [...(prev?.values ?? []), ...c.values] });
      }
    if (rel.size) cats.set(RELEASABLE_TO, { tagName: RELEASABLE_TO, type: 'permissive', values: [...rel] });
    return canonical({ policy, classification: top, categories: [...cats.values()] });
  }
}

function canonical(l: ConfidentialityLabel): ConfidentialityLabel {
  return {
    policy: l.policy,
    classification: l.classification,
    categories: l.categories
      .map((c) => ({ tagName: c.tagName, type: c.type, values: [...new Set(c.values)].sort() }))
      .filter((c) => c.values.length > 0)
      .sort((a, b) => (a.tagName < b.tagName ? -1 : a.tagName > b.tagName ? 1 : 0)),
  };
}

/** The organisation codes a label is releasable to (empty: to nobody but the provider). */
export function releasableTo(l: ConfidentialityLabel): string[] {
  return l.categories.find((c) => c.tagName === RELEASABLE_TO)?.values ?? [];
}

/** The caveats a holder needs (every value of every restrictive category). */
export function caveatsOf(l: ConfidentialityLabel): string[] {
  return l.categories.filter((c) => c.type === 'restrictive').flatMap((c) => c.values);
}

const xmlText = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The label as ADatP-4774 XML (namespace urn:nato:stanag:4774:confidentialitymetadatalabel:1:0). */
export function labelToXml(l: ConfidentialityLabel, created = new Date()): string {
  const cats = l.categories
    .map(
      (c) =>
        `    <slab:Category TagName="${xmlText(c.tagName)}" Type="${c.type.toUpperCase()}">\n${c.values
          .map((v) => `      <slab:GenericValue>${xmlText(v)}</slab:GenericValue>\n`)
          .join('')}    </slab:Category>\n`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<slab:ConfidentialityLabel xmlns:slab="urn:nato:stanag:4774:confidentialitymetadatalabel:1:0">
  <slab:ConfidentialityInformation>
    <slab:PolicyIdentifier>${xmlText(l.policy)}</slab:PolicyIdentifier>
    <slab:Classification>${xmlText(l.classification)}</slab:Classification>
${cats}  </slab:ConfidentialityInformation>
  <slab:CreationDateTime>${created.toISOString()}</slab:CreationDateTime>
</slab:ConfidentialityLabel>
`;
}
