#pragma once
// Experiments on a minimal counterexample (docs/probe.md#experiments): a few
// more cases sent to the same program, each reported with the cases it sent
// and what the replies showed; one that confirms the stated cause, or names a
// cause the numbers of one reply could not, updates the cause (verify.hpp's
// Cause, confidence `confirmed`).
//
//   samples alone        a batch of 2..8: each sample alone
//   sample pairs         a batch of 3 or 4 whose samples alone are right: each pair
//   third sample         samples-dropped in a batch of 2: overwritten or skipped?
//   scale                a scale cause: one more sample, the reduction switched,
//                        one more output: how the ratio moves names the factor
//   derivative           a wrong derivative (named or not) of a dense layer: one layer's z placed
//                        at 6 values on both sides of 0 by its biases; the
//                        derivative the program used, measured, matched to the
//                        formulas (at z, at a, in a fed z, none, slope 0)
//   symmetric weights    a wrong backward step through a square dense layer: W made
//                        symmetric, where a transposition cannot show
#include <gradcheck/verify/verify.hpp>

#include <functional>
#include <optional>

namespace gradcheck::detail {

// The program's reply to a case, verified; nullopt when it gave no usable
// reply (a failure, or the run was interrupted).
using AskProgram = std::function<std::optional<VerifyResult>(const Case&)>;

// Runs the experiments that apply to the minimal case `m` and its result
// `v` (whose cause must be set), appending each to v.cause->experiments.
// `stopped` says the run was interrupted (no more questions).
void run_experiments(const Case& m, VerifyResult& v, const AskProgram& ask, const std::function<bool()>& stopped);

}  // namespace gradcheck::detail
