// The 2-D quadtree of Barnes-Hut t-SNE, as scikit-learn's sklearn/neighbors/_quad_tree.pyx builds and
// summarises it: cells split at their centre, each holding its points' count and barycentre; a cell
// stands for its points when it is a leaf or when width² / distance² < θ².

/// A quadtree over 2-D points (Float32, like scikit-learn's).
struct QuadTree {
    private struct Cell {
        var centre: SIMD2<Float>
        var minBounds: SIMD2<Float>
        var maxBounds: SIMD2<Float>
        var barycentre: SIMD2<Float> = .zero
        var squaredMaxWidth: Float = 0
        var size: Int32 = 0
        var depth: Int32
        var isLeaf = true
    }

    /// Points closer than this on every axis are one point (scikit-learn's EPSILON).
    static let duplicateTolerance: Float = 1e-6
    /// Deeper than this, points that the centres can no longer separate are kept as duplicates.
    private static let maxDepth: Int32 = 64

    private var cells: [Cell] = []
    /// Four children per cell, −1 where absent (a leaf has none).
    private var children: [Int32] = []
    /// What the walk reads, per cell: barycentre (x, y), squared width (−1 for a leaf), point count.
    private var summaries: [SIMD4<Float>] = []

    /// Builds the tree of `count` points stored as interleaved (x, y) pairs.
    init(points: UnsafePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var lo = SIMD2<Float>(points[0], points[1]), hi = lo
        for i in 1..<count {
            let p = SIMD2<Float>(points[2 * i], points[2 * i + 1])
            lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p)
        }
        for a in 0..<2 {
            let m = hi[a]
            let sign: Float = m > 0 ? 1 : (m < 0 ? -1 : 0)
            hi[a] = Swift.max(m * (1 + 1e-3 * sign), m + 1e-3)
        }
        cells.reserveCapacity(2 * count)
        children.reserveCapacity(8 * count)
        addCell(min: lo, max: hi, depth: 0)
        for i in 0..<count { insert(SIMD2<Float>(points[2 * i], points[2 * i + 1])) }
        summaries = cells.map { SIMD4($0.barycentre.x, $0.barycentre.y, $0.isLeaf ? -1 : $0.squaredMaxWidth, Float($0.size)) }
    }

    private mutating func addCell(min lo: SIMD2<Float>, max hi: SIMD2<Float>, depth: Int32) {
        let w = hi - lo
        cells.append(Cell(centre: (lo + hi) / 2, minBounds: lo, maxBounds: hi,
                          squaredMaxWidth: Swift.max(w.x * w.x, w.y * w.y), depth: depth))
        for _ in 0..<4 { children.append(-1) }
    }

    private func quadrant(_ p: SIMD2<Float>, of cell: Int) -> Int {
        let c = cells[cell].centre
        return (p.x >= c.x ? 2 : 0) + (p.y >= c.y ? 1 : 0)
    }

    /// A new child of `cell` holding `size` points at `point`.
    @discardableResult
    private mutating func newChild(of cell: Int, at point: SIMD2<Float>, size: Int32) -> Int {
        let q = quadrant(point, of: cell)
        let parent = cells[cell]
        var lo = parent.minBounds, hi = parent.maxBounds
        if q & 2 != 0 { lo.x = parent.centre.x } else { hi.x = parent.centre.x }
        if q & 1 != 0 { lo.y = parent.centre.y } else { hi.y = parent.centre.y }
        let id = cells.count
        addCell(min: lo, max: hi, depth: parent.depth + 1)
        cells[id].barycentre = point
        cells[id].size = size
        cells[cell].isLeaf = false
        children[4 * cell + q] = Int32(id)
        return id
    }

    private mutating func insert(_ point: SIMD2<Float>) {
        var cell = 0
        while true {
            let c = cells[cell]
            if c.size == 0 {
                cells[cell].size = 1
                cells[cell].barycentre = point
                return
            }
            if !c.isLeaf {
                let n = Float(c.size)
                cells[cell].barycentre = (n * c.barycentre + point) / (n + 1)
                cells[cell].size += 1
                let child = children[4 * cell + quadrant(point, of: cell)]
                if child < 0 { newChild(of: cell, at: point, size: 1); return }
                cell = Int(child)
                continue
            }
            let gap = point - c.barycentre
            if (abs(gap.x) <= Self.duplicateTolerance && abs(gap.y) <= Self.duplicateTolerance) || c.depth >= Self.maxDepth {
                cells[cell].size += 1
                return
            }
            // A leaf with other points: they move to a new child and the point is inserted again here.
            newChild(of: cell, at: c.barycentre, size: c.size)
        }
    }

    /// Walks the cells that summarise the tree as seen from `point` (θ² = `squaredTheta`), calling
    /// `visit(offset, squaredDistance, size)` with offset = point − barycentre. Leaves at the point
    /// itself are skipped. `stack` is scratch space of at least `stackCapacity` entries.
    @inline(__always)
    func summarize(_ point: SIMD2<Float>, squaredTheta: Float, stack: UnsafeMutablePointer<Int32>,
                   _ visit: (SIMD2<Float>, Float, Float) -> Void) {
        guard !summaries.isEmpty else { return }
        summaries.withUnsafeBufferPointer { cells in
            children.withUnsafeBufferPointer { children in
                var top = 1
                stack[0] = 0
                while top > 0 {
                    top -= 1
                    let id = Int(stack[top])
                    let c = cells[id]                 // barycentre x, y; width² (−1 for a leaf); size
                    let offset = point - SIMD2(c.x, c.y)
                    let d2 = offset.x * offset.x + offset.y * offset.y
                    if c.z < 0 {                                          // a leaf
                        if abs(offset.x) <= Self.duplicateTolerance && abs(offset.y) <= Self.duplicateTolerance { continue }
                        visit(offset, d2, c.w)
                    } else if c.z / d2 < squaredTheta {
                        visit(offset, d2, c.w)
                    } else {
                        for q in stride(from: 3, through: 0, by: -1) where children[4 * id + q] >= 0 {
                            stack[top] = children[4 * id + q]
                            top += 1
                        }
                    }
                }
            }
        }
    }

    /// Scratch entries `summarize` needs: three per level below the root, plus one.
    static let stackCapacity = 3 * Int(maxDepth + 2) + 4

    /// Points in the tree (the root's count).
    var pointCount: Int { cells.isEmpty ? 0 : Int(cells[0].size) }
}
