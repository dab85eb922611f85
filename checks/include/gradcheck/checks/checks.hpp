#pragma once
// gradcheck::checks, everything at once. See docs/checks.md.
#include <gradcheck/checks/compare.hpp>
#include <gradcheck/checks/finite_difference.hpp>
#include <gradcheck/checks/function_check.hpp>
#include <gradcheck/checks/mutations.hpp>

#include <gradcheck/checks/network_check.hpp>
#include <gradcheck/checks/reference.hpp>
#include <gradcheck/checks/result.hpp>
