#pragma once
// A document that uses every block type, with names that need escaping in every format.
// The tests count what the renderers make of it, so the numbers below are the contract:
//   sections: "Forward pass" (pass, no testcases), "Gradients" (fail, 5 testcases:
//   2 fail, 1 skip, 2 pass), "Training" (notes, no testcases)
//   bar chart: 5 bars (one NaN), heatmap: 6 × 4 cells (2 disagree, 1 non-finite),
//   line chart: 2 series, table: 25 rows (3 disagree cells) + 7 omitted.

#include <gradcheck/reports/document.hpp>
#include <gradcheck/reports/report.hpp>

#include <cmath>
#include <string>

namespace gradcheck::reports::test {

inline const std::string nasty = "w<1>&\"q\" 'x'|y";  // <, &, quotes, a Markdown pipe

// A section with its heading, status and summary line, and no blocks yet.
inline Section make_section(const std::string& heading, Status status, const std::string& summary) {
  Section s;
  s.heading = heading;
  s.status = status;
  s.summary = summary;
  return s;
}

inline Document sample_document() {
  Document doc;
  doc.title = "gradcheck check <net> & \"friends\"";
  doc.generator = "gradcheck test";
  doc.status = Status::fail;
  doc.facts.rows = {{"case", "case<1>.json"}, {"method", "Ridders"}};

  Section forward = make_section("Forward pass", Status::pass, "outputs and loss agree");
  forward.add(KeyValues{"Forward", {{"output", "0.78900331"}, {"loss", "0.0222598"}}});
  doc.sections.push_back(forward);

  Section grads = make_section("Gradients", Status::fail, "3 of 25 entries disagree");
  grads.add(Paragraph{Severity::error, "layers[1].biases: <script>alert(1)</script> & more"});
  grads.add(Paragraph{Severity::info, "origin layer: 1"});
  Table t;
  t.caption = "Failing entries";
  t.header = {"tensor", "row", "analytic", "numeric", "verdict"};
  for (int i = 0; i < 25; ++i) {
    const bool bad = i % 10 == 3;  // rows 3, 13, 23
    t.rows.push_back({Cell(i == 0 ? nasty : "layers[0].weights"), Cell::number(i), Cell::number(0.1 * i + 1e-9),
                      Cell::number(bad ? -0.5 : 0.1 * i), Cell(bad ? "disagree" : "agree", bad ? Verdict::disagree : Verdict::agree)});
  }
  t.omitted_rows = 7;
  grads.add(t);
  BarChart bar;
  bar.title = "Worst relative error per tensor";
  bar.y_label = "relative error";
  bar.labels = {"layers[0].weights", "layers[0].biases", nasty, "layers[1].biases", "layers[2].weights"};
  bar.values = {1e-12, 1e-9, 1e-6, std::nan(""), 1e-3};
  bar.verdicts = {Verdict::agree, Verdict::agree, Verdict::inconclusive_kink, Verdict::non_finite, Verdict::disagree};
  bar.log_scale = true;
  bar.threshold = 1e-7;
  bar.threshold_label = "tolerance";
  grads.add(bar);
  Heatmap h(6, 4);
  h.title = "Relative error of layers[0].weights";
  h.value_label = "relative error";
  h.row_title = "unit";
  h.col_title = "input";
  h.threshold = 1e-7;
  for (std::size_t r = 0; r < 6; ++r)
    for (std::size_t c = 0; c < 4; ++c) {
      h.value(r, c) = std::pow(10.0, -12.0 + static_cast<double>(r + c));
      h.verdicts[r * 4 + c] = Verdict::agree;
    }
  h.verdicts[1 * 4 + 2] = Verdict::disagree;
  h.value(1, 2) = 0.5;
  h.verdicts[5 * 4 + 3] = Verdict::disagree;
  h.value(4, 0) = std::nan("");
  h.verdicts[4 * 4 + 0] = Verdict::non_finite;
  grads.add(h);
  grads.testcases = {
      {"gradients", "layers[0].weights", Outcome::pass, "", "", 0.001},
      {"gradients", "layers[0].biases", Outcome::pass, "worst 1e-9", "", 0.002},
      {"gradients", nasty, Outcome::fail, "relative error 0.5 > 1e-07 <tolerance>", "row 1, col 2:\n analytic 0.1\n numeric -0.5", 0},
      {"gradients", "layers[1].biases", Outcome::fail, "non-finite", "NaN & inf", 0},
      {"gradients", "layers[2].biases", Outcome::skip, "not in the reply", "", 0},
  };
  doc.sections.push_back(grads);

  Section training = make_section("Training", Status::notes, "loss became NaN at step 3");
  training.add(Paragraph{Severity::note, "differences at float32 level"});
  LineChart line;
  line.title = "Loss";
  line.x_label = "step";
  line.y_label = "loss";
  line.log_y = true;
  line.series.push_back({"train", {0, 1, 2, 3, 4}, {1.0, 0.5, 0.25, std::nan(""), 0.1}});
  line.series.push_back({"test " + nasty, {0, 1, 2, 3, 4}, {1.2, 0.7, 0.4, 0.3, 0.2}});
  training.add(line);
  training.add(Preformatted{"Minimal counterexample", "{\"inputs\": [[0.5]]}\n```not a fence```", "json"});
  doc.sections.push_back(training);
  return doc;
}

inline Report sample_report() {
  Report r;
  r.document = sample_document();
  r.add_result({{"type", "sample"}, {"worst", 0.5}});
  return r;
}

}  // namespace gradcheck::reports::test
