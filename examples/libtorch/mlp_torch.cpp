// A gradcheck probe adapter around libtorch: builds each case's network as
// float64 tensors with requires_grad, computes the loss as docs/case-format.md
// defines it, calls backward() and replies with torch's autograd gradients.
// gradcheck then checks torch's gradients against its 50-digit reference:
//
//   gradcheck probe --cases 100 --magnitudes unit,tiny -- ./gradcheck_libtorch_mlp
//
// The loss is written in torch's numerically careful forms (log_softmax,
// logsigmoid, a log-sum-exp over the other classes for softmax's ln(1 − a)),
// which are the same functions as the definitions, not different losses:
//   quadratic             ½ Σ_k (a_k − y_k)²
//   cross_entropy         −Σ_k y_k ln a_k          (terms with y_k = 0 count 0)
//   binary_cross_entropy  −Σ_k [y_k ln a_k + (1 − y_k) ln(1 − a_k)]
//   reduction mean / sum over the samples.
// A case it cannot build (an unknown activation, say) is declined with
// {"error": ...}. With --float32 the network, inputs and targets become float32
// tensors and torch computes in float32, as most torch programs do; the reply
// says "precision": "float32" (docs/verify.md#precision):
//
//   gradcheck probe --cases 200 --seed 1 -- ./gradcheck_libtorch_mlp --float32
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <nlohmann/json.hpp>

#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

at::ScalarType dtype = at::kDouble;  // what torch computes in: kDouble, or kFloat with --float32

// Rows of a JSON matrix as a rows × cols float64 tensor.
at::Tensor matrix(const json& rows) {
  const auto r = static_cast<int64_t>(rows.size());
  const auto c = r ? static_cast<int64_t>(rows.at(0).size()) : 0;
  at::Tensor t = at::empty({r, c}, at::kDouble);
  auto acc = t.accessor<double, 2>();
  for (int64_t i = 0; i < r; ++i) {
    if (static_cast<int64_t>(rows.at(i).size()) != c) throw std::runtime_error("ragged matrix");
    for (int64_t j = 0; j < c; ++j) acc[i][j] = rows.at(i).at(j).get<double>();
  }
  return t;
}

at::Tensor vector(const json& v) {
  at::Tensor t = at::empty({static_cast<int64_t>(v.size())}, at::kDouble);
  auto acc = t.accessor<double, 1>();
  for (int64_t i = 0; i < t.size(0); ++i) acc[i] = v.at(i).get<double>();
  return t;
}

json rows_of(const at::Tensor& t) {
  const at::Tensor m = (t.dim() == 1 ? t.unsqueeze(0) : t).to(at::kDouble).contiguous();
  auto acc = m.accessor<double, 2>();
  json out = json::array();
  for (int64_t i = 0; i < m.size(0); ++i) {
    json row = json::array();
    for (int64_t j = 0; j < m.size(1); ++j) row.push_back(acc[i][j]);
    out.push_back(row);
  }
  return t.dim() == 1 ? out.at(0) : out;
}

// Applies the activation to z (samples × units, one row per sample).
at::Tensor activate(const std::string& act, const at::Tensor& z) {
  if (act == "identity") return z;
  if (act == "sigmoid") return at::sigmoid(z);
  if (act == "tanh") return at::tanh(z);
  if (act == "relu") return at::relu(z);
  if (act == "leaky_relu") return at::leaky_relu(z, 0.01);
  if (act == "softmax") return at::softmax(z, 1);
  throw std::runtime_error("unknown activation '" + act + "'");
}

// ln(1 − a_k) of a softmax row, for every k: log-sum-exp of the other logits minus that of all.
at::Tensor softmax_log_one_minus(const at::Tensor& z) {
  const int64_t K = z.size(1);
  const at::Tensor others = z.unsqueeze(1).expand({z.size(0), K, K});  // [n, k, j] = z[n, j]
  const at::Tensor self = at::eye(K, z.options().dtype(at::kBool)).unsqueeze(0);
  const at::Tensor masked = at::where(self, at::full({}, -INFINITY, z.options()), others);
  return at::logsumexp(masked, {2}) - at::logsumexp(z, {1}, true);
}

json gradients(const json& c) {
  const json& net = c.at("network");
  const std::string loss_name = net.value("loss", "quadratic");
  const std::string reduction = net.value("reduction", "mean");
  std::vector<at::Tensor> weights, biases;
  std::vector<std::string> acts;
  for (const json& layer : net.at("layers")) {
    weights.push_back(matrix(layer.at("weights")).to(dtype).requires_grad_(true));
    biases.push_back(vector(layer.at("biases")).to(dtype).requires_grad_(true));
    acts.push_back(layer.at("activation").get<std::string>());
  }
  const at::Tensor x = matrix(c.at("inputs")).to(dtype);   // samples × features
  const at::Tensor y = matrix(c.at("targets")).to(dtype);  // samples × outputs

  at::Tensor a = x, z;
  for (std::size_t l = 0; l < weights.size(); ++l) {
    z = at::matmul(a, weights[l].t()) + biases[l];
    a = activate(acts[l], z);
  }
  const std::string out = acts.back();

  at::Tensor per_sample;
  if (loss_name == "quadratic") {
    per_sample = 0.5 * (a - y).pow(2).sum(1);
  } else {
    at::Tensor ln_a, ln_1ma;
    if (out == "softmax") {
      ln_a = at::log_softmax(z, 1);
      ln_1ma = softmax_log_one_minus(z);
    } else if (out == "sigmoid") {
      ln_a = at::log_sigmoid(z);
      ln_1ma = at::log_sigmoid(-z);
    } else {
      throw std::runtime_error(loss_name + " needs a sigmoid or softmax output layer");
    }
    const at::Tensor zero = at::zeros({}, z.options());
    at::Tensor terms = at::where(y != 0, y * ln_a, zero);  // 0 · ln 0 = 0
    if (loss_name == "binary_cross_entropy") terms = terms + at::where(y != 1, (1 - y) * ln_1ma, zero);
    else if (loss_name != "cross_entropy") throw std::runtime_error("unknown loss '" + loss_name + "'");
    per_sample = -terms.sum(1);
  }
  const at::Tensor loss = reduction == "sum" ? per_sample.sum() : per_sample.mean();
  loss.backward();

  json reply;
  reply["layers"] = json::array();
  for (std::size_t l = 0; l < weights.size(); ++l)
    reply["layers"].push_back({{"weights", rows_of(weights[l].grad())}, {"biases", rows_of(biases[l].grad())}});
  reply["loss"] = loss.item<double>();
  reply["outputs"] = rows_of(a.detach());
  if (dtype == at::kFloat) reply["precision"] = "float32";
  return reply;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--float32") {
      dtype = at::kFloat;
    } else {
      std::cerr << "usage: gradcheck_libtorch_mlp [--float32]\n";
      return 2;
    }
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    json reply;
    try {
      reply = gradients(json::parse(line));
    } catch (const std::exception& e) {
      reply = {{"error", e.what()}};
    }
    // NaN and ±Inf have no JSON spelling: nlohmann writes null, which a reply
    // reads as a non-finite value (docs/case-format.md).
    std::cout << reply.dump() << std::endl;
  }
  return 0;
}
