#include "sample_document.hpp"
#include "xml_check.hpp"

#include <gradcheck/reports/render.hpp>

#include <gtest/gtest.h>

namespace gradcheck::reports {
namespace {

using test::XmlNode;

TEST(JunitReport, IsWellFormedWithOneTestsuiteWhoseTotalsMatchItsTestcases) {
  const XmlNode root = test::parse_xml(render_junit(test::sample_document()));
  ASSERT_EQ(root.name, "testsuites");
  const auto suites = root.all("testsuite");
  ASSERT_EQ(suites.size(), 1u);
  const XmlNode& suite = *suites[0];
  const auto cases = suite.all("testcase");
  // 5 testcases of "Gradients" + one each for "Forward pass" and "Training", which have none.
  ASSERT_EQ(cases.size(), 7u);
  EXPECT_EQ(suite.attr("tests"), "7");
  EXPECT_EQ(suite.attr("failures"), std::to_string(suite.all("failure").size()));
  EXPECT_EQ(suite.attr("failures"), "2");
  EXPECT_EQ(suite.attr("skipped"), std::to_string(suite.all("skipped").size()));
  EXPECT_EQ(suite.attr("skipped"), "1");
  EXPECT_EQ(suite.attr("errors"), "0");
  for (const char* a : {"tests", "failures", "errors", "skipped"}) EXPECT_EQ(root.attr(a), suite.attr(a)) << a;
  EXPECT_EQ(suite.attr("time"), "0.003");
}

TEST(JunitReport, NamesAndMessagesRoundTripThroughEscaping) {
  const XmlNode root = test::parse_xml(render_junit(test::sample_document()));
  const XmlNode& suite = *root.all("testsuite")[0];
  EXPECT_EQ(suite.attr("name"), "gradcheck check <net> & \"friends\"");
  const auto cases = suite.all("testcase");
  ASSERT_EQ(cases.size(), 7u);
  // Sections in order; one without testcases becomes one testcase with its status.
  EXPECT_EQ(cases[0]->attr("name"), "Forward pass");
  EXPECT_EQ(cases[0]->attr("classname"), "report");
  EXPECT_EQ(cases[0]->children.at(0).text, "outputs and loss agree");
  EXPECT_TRUE(cases[1]->children.empty());
  // A passing testcase with a message keeps it visible.
  EXPECT_EQ(cases[2]->children.at(0).name, "system-out");
  EXPECT_EQ(cases[2]->children.at(0).text, "worst 1e-9");
  const XmlNode& nasty = *cases[3];
  EXPECT_EQ(nasty.attr("classname"), "gradients");
  EXPECT_EQ(nasty.attr("name"), test::nasty);
  ASSERT_EQ(nasty.children.size(), 1u);
  EXPECT_EQ(nasty.children[0].name, "failure");
  EXPECT_EQ(nasty.children[0].attr("message"), "relative error 0.5 > 1e-07 <tolerance>");
  EXPECT_EQ(nasty.children[0].text, "row 1, col 2:\n analytic 0.1\n numeric -0.5");
  EXPECT_EQ(cases[4]->children.at(0).text, "NaN & inf");
  EXPECT_EQ(cases[5]->children.at(0).name, "skipped");
  EXPECT_EQ(cases[5]->children.at(0).attr("message"), "not in the reply");
  EXPECT_EQ(cases[6]->attr("name"), "Training");
  EXPECT_EQ(cases[6]->children.at(0).text, "loss became NaN at step 3");
}

TEST(JunitReport, NewlinesInAttributesSurviveAsCharacterReferences) {
  Document doc;
  Section s;
  s.heading = "x";
  s.testcases.push_back({"suite", "multi\nline\tname", Outcome::fail, "first\nsecond", "", 0});
  doc.sections.push_back(s);
  const std::string xml = render_junit(doc);
  EXPECT_NE(xml.find("name=\"multi&#10;line&#9;name\""), std::string::npos);
  const XmlNode root = test::parse_xml(xml);
  EXPECT_EQ(root.all("testcase")[0]->attr("name"), "multi\nline\tname");
  EXPECT_EQ(root.all("failure")[0]->attr("message"), "first\nsecond");
}

TEST(JunitReport, ControlCharactersAndInvalidUtf8StayWellFormed) {
  Document doc;
  doc.title = std::string("t\x01\x1b[31m \xc3\x28 \xed\xa0\x80");  // ESC, an invalid pair, a surrogate
  Section s;
  s.heading = "h";
  s.testcases.push_back({"s", "n", Outcome::error, std::string("crash:\x07\x00 after", 15), std::string("\xff\xfe", 2), 0});
  doc.sections.push_back(s);
  const std::string xml = render_junit(doc);
  XmlNode root;
  ASSERT_NO_THROW(root = test::parse_xml(xml)) << xml;
  EXPECT_EQ(root.attr("errors"), "1");
  EXPECT_EQ(root.all("error").size(), 1u);
}

TEST(JunitReport, InterruptedRunAddsAnErrorSoCiDoesNotShowGreen) {
  Document doc;
  Section s;
  s.heading = "Probe";
  s.status = Status::pass;
  s.testcases.push_back({"probe", "case 1", Outcome::pass, "", "", 0});
  doc.sections.push_back(s);
  doc.interrupted_by = "SIGINT";
  const XmlNode root = test::parse_xml(render_junit(doc));
  const auto cases = root.all("testcase");
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[1]->attr("name"), "run completed");
  ASSERT_EQ(cases[1]->children.size(), 1u);
  EXPECT_EQ(cases[1]->children[0].name, "error");
  EXPECT_EQ(cases[1]->children[0].attr("message"), "interrupted: the report holds what was gathered before SIGINT");
  EXPECT_EQ(root.attr("errors"), "1");
  bool property = false;
  for (const XmlNode* p : root.all("property"))
    property = property || (p->attr("name") == "interrupted_by" && p->attr("value") == "SIGINT");
  EXPECT_TRUE(property);
}

TEST(JunitReport, FailingAndErroringSectionsWithoutTestcasesFail) {
  Document doc;
  for (Status st : {Status::pass, Status::notes, Status::fail, Status::error}) {
    Section s;
    s.heading = to_string(st);
    s.status = st;
    doc.sections.push_back(s);
  }
  const XmlNode root = test::parse_xml(render_junit(doc));
  const auto cases = root.all("testcase");
  ASSERT_EQ(cases.size(), 4u);
  EXPECT_TRUE(cases[0]->children.empty());
  EXPECT_TRUE(cases[1]->children.empty());
  EXPECT_EQ(cases[2]->children.at(0).name, "failure");
  EXPECT_EQ(cases[3]->children.at(0).name, "error");
}

TEST(XmlCheck, RejectsWhatIsNotWellFormed) {
  // The checker the JUnit tests rely on must itself catch malformed XML.
  for (const char* bad : {"<a><b></a></b>", "<a x=1/>", "<a>&bogus;</a>", "<a>1 < 2</a>", "<a/><b/>", "<a>\x01</a>",
                          "<a x=\"1\" x=\"2\"/>", "<a>\xff</a>", "<a>"})
    EXPECT_THROW(test::parse_xml(bad), std::runtime_error) << bad;
  EXPECT_NO_THROW(test::parse_xml("<?xml version=\"1.0\"?>\n<a x='1'><!-- c --><b>&lt;&#10;&#x41;</b></a>\n"));
}

}  // namespace
}  // namespace gradcheck::reports
