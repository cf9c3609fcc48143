/** A GeoJSON polygon of a box [west, south, east, north] (counter-clockwise, closed). */
export function bboxPolygon([w, s, e, n]: readonly number[]): { type: 'Polygon'; coordinates: number[][][] } {
  return {
    type: 'Polygon',
    coordinates: [
      [
        [w, s],
        [e, s],
        [e, n],
        [w, n],
        [w, s],
      ],
    ],
  };
}
