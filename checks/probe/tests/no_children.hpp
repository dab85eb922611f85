#pragma once
// For the tests that start child processes (subprocess_test.cpp, probe_test.cpp):
// a GoogleTest fixture that ends every test by asserting that this process has
// no children left, running or zombie.
//
//   class LineProcess : public gradcheck::testing::NoChildrenLeft {};
//   TEST_F(LineProcess, ...) { ... }  // then expect_no_children(), in TearDown
#include <gtest/gtest.h>

#include <errno.h>
#include <sys/wait.h>

namespace gradcheck::testing {

// waitpid(-1) fails with ECHILD exactly when no child, running or zombie, remains.
inline void expect_no_children() {
  int status = 0;
  errno = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// Runs expect_no_children() after each test body, its locals destroyed, and
// also after a failed ASSERT_* returned from the body early.
class NoChildrenLeft : public ::testing::Test {
 protected:
  void TearDown() override { expect_no_children(); }
};

}  // namespace gradcheck::testing
