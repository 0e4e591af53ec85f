// What Optuna reads back: Python's spelling of floats and JSON, and distribution_json byte for byte.

import Foundation
import Testing
import Tensor
import Studies

@Suite struct OptunaFormatTests {
    /// distribution_json as optuna 5.1.0 wrote it for these suggestions.
    @Test func distributionJSONMatchesOptuna() throws {
        let cases: [(Distribution, String)] = [
            (.categorical(["a", "b", 3, 1.5, true]),
             #"{"name": "CategoricalDistribution", "attributes": {"choices": ["a", "b", 3, 1.5, true]}}"#),
            (try .makeInt("i", low: 1, high: 9, step: 2),
             #"{"name": "IntDistribution", "attributes": {"log": false, "step": 2, "low": 1, "high": 9}}"#),
            (try .makeInt("il", low: 1, high: 100, log: true),
             #"{"name": "IntDistribution", "attributes": {"log": true, "step": 1, "low": 1, "high": 100}}"#),
            (try .makeFloat("f", low: 0, high: 1),
             #"{"name": "FloatDistribution", "attributes": {"step": null, "low": 0.0, "high": 1.0, "log": false}}"#),
            (try .makeFloat("fl", low: 1e-5, high: 0.1, log: true),
             #"{"name": "FloatDistribution", "attributes": {"step": null, "low": 1e-05, "high": 0.1, "log": true}}"#),
            (try .makeFloat("fs", low: 0, high: 1, step: 0.25),
             #"{"name": "FloatDistribution", "attributes": {"step": 0.25, "low": 0.0, "high": 1.0, "log": false}}"#),
            (.categorical(["é\"\\\n"]), #"{"name": "CategoricalDistribution", "attributes": {"choices": ["\u00e9\"\\\n"]}}"#),
        ]
        for (d, json) in cases { #expect(d.optunaJSON == json) }
    }

    @Test func stepsLowerHighAsOptuna() throws {
        #expect(try Distribution.makeInt("n", low: 1, high: 10, step: 2) == .int(low: 1, high: 9, log: false, step: 2))
        #expect(try Distribution.makeFloat("x", low: 0.1, high: 1.0, step: 0.2) == .float(low: 0.1, high: 0.9, log: false, step: 0.2))
        #expect(try Distribution.makeFloat("x", low: 0, high: 0.3, step: 0.1) == .float(low: 0, high: 0.3, log: false, step: 0.1))
    }

    @Test func describesLikeOptuna() throws {
        #expect(try Distribution.makeFloat("x", low: 1e-5, high: 1e-3, log: true).description
                == "FloatDistribution(high=0.001, log=True, low=1e-05, step=None)")
        #expect(Distribution.categorical(["mlp", 4, true]).description == "CategoricalDistribution(choices=('mlp', 4, True))")
    }

    /// Python's `repr` of these floats (what `json.dumps` writes).
    @Test func floatsAreSpelledAsPython() {
        let cases: [(Double, String)] = [
            (1e-05, "1e-05"), (0.0001, "0.0001"), (1e16, "1e+16"), (1234567.0, "1234567.0"), (0.1, "0.1"),
            (1e22, "1e+22"), (1.5e-07, "1.5e-07"), (123456789012345.6, "123456789012345.6"), (-2.5, "-2.5"),
            (9999999999999998.0, "9999999999999998.0"), (0.30000000000000004, "0.30000000000000004"),
            (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (100.0, "100.0"), (0.001, "0.001"),
        ]
        for (x, python) in cases { #expect(ParamValue.float(x).description == python) }
    }
}
