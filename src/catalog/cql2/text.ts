import type { Cql2Expr, Cql2Geometry } from './ast.js';
import {
  Cql2Error,
  Cql2LimitError,
  checkCql2Limits,
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  normaliseTimestamp,
  standardOp,
} from './ast.js';

/**
 * CQL2 text (OGC 21-065 cql2-text) to the cql2-json AST. A recursive-descent parser over a small
 * tokenizer; precedence from low to high: OR, AND, NOT, comparisons and predicates (LIKE, BETWEEN,
 * IN, IS NULL), + and -, *, / , % and div, ^, unary minus. AND / OR chains become one n-ary node, as
 * the standard's examples do; a unary minus on a number is a negative number, on anything else
 * {"op":"*","args":[-1, x]}.
 */

type Tok =
  | { k: 'num'; v: number; pos: number }
  | { k: 'str'; v: string; pos: number }
  | { k: 'id'; v: string; quoted: boolean; pos: number }
  | { k: 'op'; v: string; pos: number }
  | { k: 'end'; pos: number };

/** Nesting the parser follows (parentheses, NOT, unary minus, ^) before it stops. */
const MAX_DEPTH = MAX_FILTER_DEPTH;

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const pos = i;
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new Cql2Error('unterminated string', pos);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += src[i++];
      }
      out.push({ k: 'str', v: s, pos });
      continue;
    }
    if (c === '"') {
      const end = src.indexOf('"', i + 1);
      if (end < 0) throw new Cql2Error('unterminated quoted identifier', pos);
      out.push({ k: 'id', v: src.slice(i + 1, end), quoted: true, pos });
      i = end + 1;
      continue;
    }
    const num = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i, i + 64));
    if (num) {
      out.push({ k: 'num', v: Number(num[0]), pos });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_:.]*/.exec(src.slice(i, i + 512));
    if (id) {
      out.push({ k: 'id', v: id[0], quoted: false, pos });
      i += id[0].length;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '<>' || two === '<=' || two === '>=') {
      out.push({ k: 'op', v: two, pos });
      i += 2;
      continue;
    }
    if ('()=<>+-*/^%,'.includes(c)) {
      out.push({ k: 'op', v: c, pos });
      i++;
      continue;
    }
    throw new Cql2Error(`unexpected character '${c}'`, pos);
  }
  out.push({ k: 'end', pos: src.length });
  return out;
}

const WKT = new Set([
  'POINT',
  'LINESTRING',
  'POLYGON',
  'MULTIPOINT',
  'MULTILINESTRING',
  'MULTIPOLYGON',
  'GEOMETRYCOLLECTION',
]);

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.i];
  }
  private next(): Tok {
    return this.toks[this.i++];
  }
  private isKw(t: Tok, kw: string): boolean {
    return t.k === 'id' && !t.quoted && t.v.toUpperCase() === kw;
  }
  private acceptKw(kw: string): boolean {
    if (this.isKw(this.peek(), kw)) {
      this.i++;
      return true;
    }
    return false;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.k === 'op' && t.v === v;
  }
  private expectOp(v: string): void {
    const t = this.next();
    if (t.k !== 'op' || t.v !== v) throw new Cql2Error(`expected '${v}', found ${describe(t)}`, t.pos);
  }

  parse(): Cql2Expr {
    const e = this.orExpr();
    const t = this.peek();
    if (t.k !== 'end') throw new Cql2Error(`unexpected ${describe(t)}`, t.pos);
    return e;
  }

  private depth = 0;

  private orExpr(): Cql2Expr {
    if (++this.depth > MAX_DEPTH)
      throw new Cql2LimitError(`the filter nests deeper than ${MAX_DEPTH} levels`, 'depth', this.peek().pos);
    const args = [this.andExpr()];
    while (this.acceptKw('OR')) args.push(this.andExpr());
    this.depth--;
    return args.length === 1 ? args[0] : { op: 'or', args };
  }

  private andExpr(): Cql2Expr {
    const args = [this.notExpr()];
    while (this.acceptKw('AND')) args.push(this.notExpr());
    return args.length === 1 ? args[0] : { op: 'and', args };
  }

  private notExpr(): Cql2Expr {
    if (this.acceptKw('NOT')) {
      if (++this.depth > MAX_DEPTH)
        throw new Cql2LimitError(
          `the filter nests deeper than ${MAX_DEPTH} levels`,
          'depth',
          this.peek().pos,
        );
      const e: Cql2Expr = { op: 'not', args: [this.notExpr()] };
      this.depth--;
      return e;
    }
    return this.predicate();
  }

  private predicate(): Cql2Expr {
    const left = this.additive();
    const t = this.peek();
    if (t.k === 'op' && ['=', '<>', '<', '>', '<=', '>='].includes(t.v)) {
      this.i++;
      return { op: t.v, args: [left, this.additive()] };
    }
    const negate = this.isKw(t, 'NOT') && this.predicateFollows(1);
    if (negate) this.i++;
    const wrap = (e: Cql2Expr): Cql2Expr => (negate ? { op: 'not', args: [e] } : e);
    if (this.acceptKw('LIKE')) return wrap({ op: 'like', args: [left, this.additive()] });
    if (this.acceptKw('BETWEEN')) {
      const lo = this.additive();
      const andTok = this.next();
      if (!this.isKw(andTok, 'AND'))
        throw new Cql2Error(`expected AND in BETWEEN, found ${describe(andTok)}`, andTok.pos);
      return wrap({ op: 'between', args: [left, lo, this.additive()] });
    }
    if (this.acceptKw('IN')) {
      this.expectOp('(');
      const list: Cql2Expr[] = [this.additive()];
      while (this.isOp(',')) {
        this.i++;
        list.push(this.additive());
      }
      this.expectOp(')');
      return wrap({ op: 'in', args: [left, list] });
    }
    if (negate) {
      const bad = this.peek();
      throw new Cql2Error(`expected LIKE, BETWEEN or IN after NOT, found ${describe(bad)}`, bad.pos);
    }
    if (this.acceptKw('IS')) {
      const not = this.acceptKw('NOT');
      const n = this.next();
      if (!this.isKw(n, 'NULL')) throw new Cql2Error(`expected NULL after IS, found ${describe(n)}`, n.pos);
      const e: Cql2Expr = { op: 'isNull', args: [left] };
      return not ? { op: 'not', args: [e] } : e;
    }
    return left;
  }

  /** Whether a LIKE, BETWEEN or IN keyword follows `ahead` tokens on. */
  private predicateFollows(ahead: number): boolean {
    const t = this.toks[this.i + ahead];
    return t !== undefined && (this.isKw(t, 'LIKE') || this.isKw(t, 'BETWEEN') || this.isKw(t, 'IN'));
  }

  private additive(): Cql2Expr {
    let e = this.multiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const op = (this.next() as { v: string }).v;
      e = { op, args: [e, this.multiplicative()] };
    }
    return e;
  }

  private multiplicative(): Cql2Expr {
    let e = this.power();
    for (;;) {
      let op: string | null = null;
      if (this.isOp('*') || this.isOp('/') || this.isOp('%')) op = (this.next() as { v: string }).v;
      else if (this.isKw(this.peek(), 'DIV')) {
        this.i++;
        op = 'div';
      }
      if (op === null) return e;
      e = { op, args: [e, this.power()] };
    }
  }

  private power(): Cql2Expr {
    const base = this.unary();
    if (this.isOp('^')) {
      this.i++;
      this.depth++;
      const e: Cql2Expr = { op: '^', args: [base, this.power()] };
      this.depth--;
      return e;
    }
    return base;
  }

  private unary(): Cql2Expr {
    if (this.depth > MAX_DEPTH)
      throw new Cql2LimitError(`the filter nests deeper than ${MAX_DEPTH} levels`, 'depth', this.peek().pos);
    if (this.isOp('-')) {
      this.i++;
      const t = this.peek();
      if (t.k === 'num') {
        this.i++;
        return -t.v;
      }
      this.depth++;
      const e: Cql2Expr = { op: '*', args: [-1, this.unary()] };
      this.depth--;
      return e;
    }
    if (this.isOp('+')) {
      this.i++;
      return this.unary();
    }
    return this.primary();
  }

  private primary(): Cql2Expr {
    const t = this.next();
    switch (t.k) {
      case 'num':
        return t.v;
      case 'str':
        return t.v;
      case 'op':
        if (t.v === '(') {
          const e = this.orExpr();
          if (this.isOp(',')) {
            // A parenthesised list: an array.
            const list = [e];
            while (this.isOp(',')) {
              this.i++;
              list.push(this.orExpr());
            }
            this.expectOp(')');
            return list;
          }
          this.expectOp(')');
          return e;
        }
        throw new Cql2Error(`unexpected ${describe(t)}`, t.pos);
      case 'end':
        throw new Cql2Error('unexpected end of the filter', t.pos);
      case 'id': {
        if (t.quoted) return { property: t.v };
        const up = t.v.toUpperCase();
        if (up === 'TRUE') return true;
        if (up === 'FALSE') return false;
        if (up === 'NULL') return null;
        if (WKT.has(up)) return this.geometry(up, t.pos);
        if (!this.isOp('(')) return { property: t.v };
        if (up === 'DATE' || up === 'TIMESTAMP') {
          this.i++;
          const s = this.next();
          if (s.k !== 'str') throw new Cql2Error(`${up} takes a string, found ${describe(s)}`, s.pos);
          this.expectOp(')');
          return up === 'DATE' ? { date: s.v } : { timestamp: normaliseTimestamp(s.v) };
        }
        if (up === 'INTERVAL') {
          this.i++;
          const a = this.instant();
          this.expectOp(',');
          const b = this.instant();
          this.expectOp(')');
          return { interval: [a, b] };
        }
        if (up === 'BBOX') {
          this.i++;
          const nums: number[] = [this.signedNumber()];
          while (this.isOp(',')) {
            this.i++;
            nums.push(this.signedNumber());
          }
          this.expectOp(')');
          if (nums.length !== 4 && nums.length !== 6)
            throw new Cql2Error(`BBOX takes 4 or 6 numbers, got ${nums.length}`, t.pos);
          return { bbox: nums };
        }
        // A function call: the standard's operators in lower case, other functions as written.
        this.i++;
        const args: Cql2Expr[] = [];
        if (!this.isOp(')')) {
          args.push(this.orExpr());
          while (this.isOp(',')) {
            this.i++;
            args.push(this.orExpr());
          }
        }
        this.expectOp(')');
        return { op: standardOp(t.v) ?? t.v, args };
      }
    }
  }

  /** An INTERVAL bound: a date or timestamp string ('..' open), a property or a function. */
  private instant(): Cql2Expr {
    const t = this.peek();
    if (t.k === 'str') {
      this.i++;
      return t.v === '..' || /^\d{4}-\d\d-\d\d$/.test(t.v) ? t.v : normaliseTimestamp(t.v);
    }
    return this.additive();
  }

  private signedNumber(): number {
    let sign = 1;
    if (this.isOp('-')) {
      this.i++;
      sign = -1;
    }
    const t = this.next();
    if (t.k !== 'num') throw new Cql2Error(`expected a number, found ${describe(t)}`, t.pos);
    return sign * t.v;
  }

  private position(): number[] {
    const p = [this.signedNumber(), this.signedNumber()];
    if (this.peek().k === 'num' || this.isOp('-')) p.push(this.signedNumber());
    return p;
  }

  private positions(): number[][] {
    this.expectOp('(');
    const pts = [this.position()];
    while (this.isOp(',')) {
      this.i++;
      pts.push(this.position());
    }
    this.expectOp(')');
    return pts;
  }

  private rings(): number[][][] {
    this.expectOp('(');
    const rings = [this.positions()];
    while (this.isOp(',')) {
      this.i++;
      rings.push(this.positions());
    }
    this.expectOp(')');
    return rings;
  }

  private geometry(kind: string, pos: number): Cql2Geometry {
    // Optional dimension marker.
    const t = this.peek();
    if (t.k === 'id' && !t.quoted && ['Z', 'M', 'ZM'].includes(t.v.toUpperCase())) this.i++;
    switch (kind) {
      case 'POINT': {
        this.expectOp('(');
        const p = this.position();
        this.expectOp(')');
        return { type: 'Point', coordinates: p };
      }
      case 'LINESTRING':
        return { type: 'LineString', coordinates: this.positions() };
      case 'POLYGON':
        return { type: 'Polygon', coordinates: this.rings() };
      case 'MULTIPOINT': {
        this.expectOp('(');
        const pts: number[][] = [];
        do {
          if (this.isOp('(')) {
            this.i++;
            pts.push(this.position());
            this.expectOp(')');
          } else pts.push(this.position());
        } while (this.isOp(',') && this.next());
        this.expectOp(')');
        return { type: 'MultiPoint', coordinates: pts };
      }
      case 'MULTILINESTRING':
        return { type: 'MultiLineString', coordinates: this.rings() };
      case 'MULTIPOLYGON': {
        this.expectOp('(');
        const polys = [this.rings()];
        while (this.isOp(',')) {
          this.i++;
          polys.push(this.rings());
        }
        this.expectOp(')');
        return { type: 'MultiPolygon', coordinates: polys };
      }
      default: {
        this.expectOp('(');
        const geoms: Cql2Geometry[] = [];
        do {
          const g = this.next();
          if (g.k !== 'id' || !WKT.has(g.v.toUpperCase()))
            throw new Cql2Error(`expected a geometry in GEOMETRYCOLLECTION, found ${describe(g)}`, g.pos);
          geoms.push(this.geometry(g.v.toUpperCase(), g.pos));
        } while (this.isOp(',') && this.next());
        this.expectOp(')');
        void pos;
        return { type: 'GeometryCollection', geometries: geoms };
      }
    }
  }
}

function describe(t: Tok): string {
  if (t.k === 'end') return 'the end of the filter';
  if (t.k === 'str') return `string '${t.v}'`;
  if (t.k === 'num') return `number ${t.v}`;
  return `'${t.v}'`;
}

/**
 * Parse a cql2-text filter; throws Cql2Error with the character position of the problem, or a
 * Cql2LimitError for a filter beyond the limits of ast.ts (length, depth, nodes, list sizes).
 */
export function parseCql2Text(src: string): Cql2Expr {
  if (typeof src !== 'string') throw new Cql2Error('the filter must be a string');
  if (src.length > MAX_FILTER_LENGTH)
    throw new Cql2LimitError(
      `the filter text: at most ${MAX_FILTER_LENGTH} characters, got ${src.length}`,
      'length',
    );
  const e = new Parser(tokenize(src)).parse();
  checkCql2Limits(e);
  return e;
}
