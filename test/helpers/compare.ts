/**
 * The largest relative difference between two images and the first pixel beyond `tol` (NaN in one and
 * not the other counts as a difference), reported as (x, y) for an image `width` pixels wide.
 */
export function compareImages(
  ours: ArrayLike<number>,
  ref: ArrayLike<number>,
  width: number,
  tol = 1e-5,
): { max: number; first: string | null } {
  let max = 0;
  let first: string | null = null;
  for (let i = 0; i < ref.length; i++) {
    const a = ours[i];
    const b = ref[i];
    const same = a === b || (a !== a && b !== b);
    const d = same ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
    if (d > max || d !== d) max = d !== d ? Number.POSITIVE_INFINITY : d;
    if ((d > tol || d !== d) && first === null)
      first = `pixel (${i % width}, ${Math.floor(i / width)}): ours ${a}, reference ${b}`;
  }
  return { max, first };
}
