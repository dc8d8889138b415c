import Foundation

/// The score transforms of ONNX-ML's classifiers and regressors (`post_transform`). Computed in
/// single precision, as the ONNX-ML operators define their scores as float.
enum PostTransform: String, Sendable {
    case none = "NONE"
    case logistic = "LOGISTIC"
    case softmax = "SOFTMAX"
    case softmaxZero = "SOFTMAX_ZERO"
    case probit = "PROBIT"

    init(attribute: String, operatorName: String) throws(ModelError) {
        guard let value = PostTransform(rawValue: attribute) else {
            throw ModelError(.unsupportedAttribute, "\(operatorName): post_transform \(attribute) is not one of NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO, PROBIT")
        }
        self = value
    }

    /// Applies the transform to one row of scores in place.
    func apply(_ scores: inout ArraySlice<Float>) {
        switch self {
        case .none:
            return
        case .logistic:
            for index in scores.indices { scores[index] = Self.logistic(scores[index]) }
        case .probit:
            for index in scores.indices { scores[index] = Self.probit(scores[index]) }
        case .softmax:
            guard let maximum = scores.max() else { return }
            var sum: Float = 0
            for index in scores.indices {
                scores[index] = expf(scores[index] - maximum)
                sum += scores[index]
            }
            for index in scores.indices { scores[index] /= sum }
        case .softmaxZero:
            // Softmax in which a score of exactly zero stays zero (ONNX-ML's SOFTMAX_ZERO).
            guard let maximum = scores.max() else { return }
            var sum: Float = 0
            for index in scores.indices where scores[index] != 0 {
                scores[index] = expf(scores[index] - maximum)
                sum += scores[index]
            }
            guard sum > 0 else { return }
            for index in scores.indices { scores[index] /= sum }
        }
    }

    /// The logistic function, evaluated on |x| so that large negative scores do not overflow.
    @inline(__always) static func logistic(_ x: Float) -> Float {
        let v = 1 / (1 + expf(-abs(x)))
        return x < 0 ? 1 - v : v
    }

    /// The probit: √2 · erfinv(2p − 1).
    static func probit(_ p: Float) -> Float {
        Float(2.0.squareRoot() * inverseErf(2 * Double(p) - 1))
    }

    /// Inverse error function by Newton steps on `erf` from libm, started from Giles' approximation;
    /// written here because neither Foundation nor libm has one.
    private static func inverseErf(_ y: Double) -> Double {
        if y <= -1 { return -.infinity }
        if y >= 1 { return .infinity }
        let w = -log((1 - y) * (1 + y))
        var x: Double
        if w < 5 {
            let t = w - 2.5
            x = 2.81022636e-08
            for c in [3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                      -0.00417768164, 0.246640727, 1.50140941] { x = c + x * t }
        } else {
            let t = w.squareRoot() - 3
            x = -0.000200214257
            for c in [0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                      0.00943887047, 1.00167406, 2.83297682] { x = c + x * t }
        }
        x *= y
        for _ in 0..<2 {
            let error = erf(x) - y
            x -= error / (2 / Double.pi.squareRoot() * exp(-x * x))
        }
        return x
    }
}
