/// The trees of an ai.onnx.ml TreeEnsembleClassifier or TreeEnsembleRegressor, flattened once at
/// load into one array of nodes (children as indices, leaves pointing at their votes), so that
/// evaluation walks contiguous memory with no lookups. Checked at load: every child exists in the
/// same tree, every vote lands on a node, no tree loops.
struct TreeEnsemble: Sendable {
    enum Mode: UInt8 {
        case lessOrEqual, less, greaterOrEqual, greater, equal, notEqual, leaf

        init(_ name: String, operatorName: String) throws(ModelError) {
            switch name {
            case "BRANCH_LEQ": self = .lessOrEqual
            case "BRANCH_LT": self = .less
            case "BRANCH_GTE": self = .greaterOrEqual
            case "BRANCH_GT": self = .greater
            case "BRANCH_EQ": self = .equal
            case "BRANCH_NEQ": self = .notEqual
            case "LEAF": self = .leaf
            default: throw ModelError(.unsupportedAttribute, "\(operatorName): node mode \(name) is unknown")
            }
        }
    }

    struct Node {
        var feature: Int32
        var threshold: Float
        var trueChild: Int32
        var falseChild: Int32
        var mode: Mode
        var missingGoesTrue: Bool
        var voteStart: Int32
        var voteCount: Int32
    }

    private(set) var nodes: [Node]
    let roots: [Int32]
    /// Votes of the leaves, grouped by node: target (class or output) index and weight.
    private(set) var voteTargets: [Int32]
    private(set) var voteWeights: [Float]
    /// The highest feature index any branch reads.
    let maximumFeature: Int
    /// Every branch is BRANCH_LEQ with no missing-value tracking: the hot path.
    let allLessOrEqual: Bool

    var treeCount: Int { roots.count }

    /// - Parameter votePrefix: `class` or `target`, the prefix of the vote attributes.
    init(_ attributes: inout NodeAttributes, votePrefix: String, targetCount: Int) throws(ModelError) {
        let name = attributes.operatorName
        for unsupported in ["nodes_values_as_tensor", "nodes_hitrates_as_tensor", "base_values_as_tensor",
                            "\(votePrefix)_weights_as_tensor"] where attributes.has(unsupported) {
            throw ModelError(.unsupportedAttribute, "\(name): \(unsupported) (double-precision trees) is not supported")
        }
        let treeIds = try attributes.ints("nodes_treeids")
        let nodeIds = try attributes.ints("nodes_nodeids")
        let featureIds = try attributes.ints("nodes_featureids")
        let values = try attributes.floats("nodes_values")
        let modes = try attributes.strings("nodes_modes")
        let trueIds = try attributes.ints("nodes_truenodeids")
        let falseIds = try attributes.ints("nodes_falsenodeids")
        let missingTrue = try attributes.ints("nodes_missing_value_tracks_true", default: [])
        _ = try attributes.floats("nodes_hitrates", default: [])  // statistics only, no effect on scores
        let voteTrees = try attributes.ints("\(votePrefix)_treeids")
        let voteNodes = try attributes.ints("\(votePrefix)_nodeids")
        let voteIds = try attributes.ints("\(votePrefix)_ids")
        let weights = try attributes.floats("\(votePrefix)_weights")

        let count = treeIds.count
        for (field, length) in [("nodes_nodeids", nodeIds.count), ("nodes_featureids", featureIds.count),
                                ("nodes_values", values.count), ("nodes_modes", modes.count),
                                ("nodes_truenodeids", trueIds.count), ("nodes_falsenodeids", falseIds.count)] where length != count {
            throw ModelError(.badAttribute, "\(name): \(field) has \(length) entries, nodes_treeids \(count)")
        }
        guard missingTrue.isEmpty || missingTrue.count == count else {
            throw ModelError(.badAttribute, "\(name): nodes_missing_value_tracks_true has \(missingTrue.count) entries for \(count) nodes")
        }
        guard voteNodes.count == voteTrees.count, voteIds.count == voteTrees.count, weights.count == voteTrees.count else {
            throw ModelError(.badAttribute, "\(name): the \(votePrefix)_ attributes differ in length")
        }
        guard count > 0 else { throw ModelError(.badAttribute, "\(name): no nodes") }

        // (tree, node) → index; trees numbered in order of first appearance.
        struct Key: Hashable { let tree: Int64; let node: Int64 }
        var index: [Key: Int] = [:]
        var treeOrder: [Int64] = []
        var seenTrees: Set<Int64> = []
        for position in 0..<count {
            let key = Key(tree: treeIds[position], node: nodeIds[position])
            guard index.updateValue(position, forKey: key) == nil else {
                throw ModelError(.badAttribute, "\(name): node \(key.node) of tree \(key.tree) appears twice")
            }
            if seenTrees.insert(key.tree).inserted { treeOrder.append(key.tree) }
        }

        var built: [Node] = []
        built.reserveCapacity(count)
        var maximumFeature = -1
        var allLessOrEqual = true
        for position in 0..<count {
            let mode = try Mode(modes[position], operatorName: name)
            var node = Node(feature: 0, threshold: values[position], trueChild: -1, falseChild: -1, mode: mode,
                            missingGoesTrue: !missingTrue.isEmpty && missingTrue[position] != 0, voteStart: 0, voteCount: 0)
            if mode != .leaf {
                guard featureIds[position] >= 0, featureIds[position] < Int64(Int32.max) else {
                    throw ModelError(.badAttribute, "\(name): feature id \(featureIds[position]) out of range")
                }
                node.feature = Int32(featureIds[position])
                maximumFeature = max(maximumFeature, Int(featureIds[position]))
                let tree = treeIds[position]
                guard let trueIndex = index[Key(tree: tree, node: trueIds[position])],
                      let falseIndex = index[Key(tree: tree, node: falseIds[position])] else {
                    throw ModelError(.badAttribute, "\(name): node \(nodeIds[position]) of tree \(tree) has a child that does not exist")
                }
                node.trueChild = Int32(trueIndex)
                node.falseChild = Int32(falseIndex)
                if mode != .lessOrEqual || node.missingGoesTrue { allLessOrEqual = false }
            }
            built.append(node)
        }

        // Votes, grouped by node.
        var votesByNode = [[(Int32, Float)]](repeating: [], count: count)
        for vote in 0..<voteTrees.count {
            guard let position = index[Key(tree: voteTrees[vote], node: voteNodes[vote])] else {
                throw ModelError(.badAttribute, "\(name): a vote names node \(voteNodes[vote]) of tree \(voteTrees[vote]), which does not exist")
            }
            guard voteIds[vote] >= 0, voteIds[vote] < Int64(targetCount) else {
                throw ModelError(.badAttribute, "\(name): a vote for \(votePrefix) \(voteIds[vote]) of \(targetCount)")
            }
            votesByNode[position].append((Int32(voteIds[vote]), weights[vote]))
        }
        var targets: [Int32] = [], voteWeights: [Float] = []
        for position in 0..<count {
            built[position].voteStart = Int32(targets.count)
            built[position].voteCount = Int32(votesByNode[position].count)
            for (target, weight) in votesByNode[position] {
                targets.append(target)
                voteWeights.append(weight)
            }
        }

        // Roots are node 0 of each tree; no tree may loop (a hostile model must not hang the node).
        var roots: [Int32] = []
        var state = [UInt8](repeating: 0, count: count)  // 0 unvisited, 1 on the path, 2 done
        for tree in treeOrder {
            guard let root = index[Key(tree: tree, node: 0)] else {
                throw ModelError(.badAttribute, "\(name): tree \(tree) has no node 0")
            }
            roots.append(Int32(root))
            var stack: [(Int, Bool)] = [(root, false)]
            while let (position, leaving) = stack.popLast() {
                if leaving { state[position] = 2; continue }
                if state[position] == 2 { continue }
                if state[position] == 1 {
                    throw ModelError(.badAttribute, "\(name): tree \(tree) loops through node \(nodeIds[position])")
                }
                state[position] = 1
                stack.append((position, true))
                let node = built[position]
                if node.mode != .leaf {
                    for child in [Int(node.trueChild), Int(node.falseChild)] {
                        if state[child] == 1 {
                            throw ModelError(.badAttribute, "\(name): tree \(tree) loops through node \(nodeIds[child])")
                        }
                        if state[child] == 0 { stack.append((child, false)) }
                    }
                }
            }
        }

        self.nodes = built
        self.roots = roots
        self.voteTargets = targets
        self.voteWeights = voteWeights
        self.maximumFeature = maximumFeature
        self.allLessOrEqual = allLessOrEqual
    }

    /// Adds every tree's votes for `row` into `scores` (one slot per target) and marks the targets
    /// that got a vote. `combine` is how a vote joins the running value (sum, min or max).
    @inline(__always)
    private func accumulate(row: UnsafeBufferPointer<Float>, into scores: UnsafeMutableBufferPointer<Float>,
                    voted: UnsafeMutableBufferPointer<Bool>, combine: Aggregate) {
        nodes.withUnsafeBufferPointer { nodes in
            voteTargets.withUnsafeBufferPointer { targets in
                voteWeights.withUnsafeBufferPointer { weights in
                    for root in roots {
                        var position = Int(root)
                        if allLessOrEqual {
                            while nodes[position].mode != .leaf {
                                let node = nodes[position]
                                position = Int(row[Int(node.feature)] <= node.threshold ? node.trueChild : node.falseChild)
                            }
                        } else {
                            while nodes[position].mode != .leaf {
                                position = Int(Self.branch(nodes[position], row[Int(nodes[position].feature)]))
                            }
                        }
                        let leaf = nodes[position]
                        for vote in Int(leaf.voteStart)..<Int(leaf.voteStart + leaf.voteCount) {
                            let target = Int(targets[vote])
                            let weight = weights[vote]
                            switch combine {
                            case .sum, .average: scores[target] += weight
                            case .minimum: scores[target] = voted[target] ? min(scores[target], weight) : weight
                            case .maximum: scores[target] = voted[target] ? max(scores[target], weight) : weight
                            }
                            voted[target] = true
                        }
                    }
                }
            }
        }
    }

    /// Runs every row of `x` through the trees and hands `finish` the row's index and its votes
    /// combined per target (`voted[t]`: whether any tree voted for target `t`). One buffer serves all rows.
    func evaluate(_ x: FloatMatrix, targets: Int, combine: Aggregate, _ finish: (Int, inout [Float], [Bool]) -> Void) {
        var scores = [Float](repeating: 0, count: targets)
        var voted = [Bool](repeating: false, count: targets)
        x.values.withUnsafeBufferPointer { input in
            for row in 0..<x.rows {
                for index in 0..<targets { scores[index] = 0; voted[index] = false }
                scores.withUnsafeMutableBufferPointer { scores in
                    voted.withUnsafeMutableBufferPointer { voted in
                        accumulate(row: UnsafeBufferPointer(rebasing: input[(row * x.columns)..<((row + 1) * x.columns)]),
                                   into: scores, voted: voted, combine: combine)
                    }
                }
                finish(row, &scores, voted)
            }
        }
    }

    @inline(__always) private static func branch(_ node: Node, _ value: Float) -> Int32 {
        if value.isNaN { return node.missingGoesTrue ? node.trueChild : node.falseChild }
        let goesTrue: Bool
        switch node.mode {
        case .lessOrEqual: goesTrue = value <= node.threshold
        case .less: goesTrue = value < node.threshold
        case .greaterOrEqual: goesTrue = value >= node.threshold
        case .greater: goesTrue = value > node.threshold
        case .equal: goesTrue = value == node.threshold
        case .notEqual: goesTrue = value != node.threshold
        case .leaf: goesTrue = true
        }
        return goesTrue ? node.trueChild : node.falseChild
    }

    /// How the votes of the trees for one target combine (TreeEnsembleRegressor's
    /// `aggregate_function`; the classifier always sums).
    enum Aggregate: String {
        case sum = "SUM", average = "AVERAGE", minimum = "MIN", maximum = "MAX"
    }

    /// Checks `columns` against the highest feature a branch reads.
    func check(columns: Int, operatorName: String) throws(ModelError) {
        guard maximumFeature < columns else {
            throw ModelError(.badInput, "\(operatorName): the trees read feature \(maximumFeature), the input has \(columns) columns")
        }
    }
}
