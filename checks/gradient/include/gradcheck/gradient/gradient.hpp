#pragma once
// gradcheck::checks, everything at once. See docs/checks.md.
#include <gradcheck/gradient/compare.hpp>
#include <gradcheck/gradient/finite_difference.hpp>
#include <gradcheck/gradient/function_check.hpp>
#include <gradcheck/verify/mutations.hpp>

#include <gradcheck/gradient/network_check.hpp>
#include <gradcheck/gradient/reference.hpp>
#include <gradcheck/gradient/result.hpp>
