#pragma once
// Bad input is reported as an InputError whose message reads
//   "<source>: <field>: <problem>"
// e.g. "case.json: network.layers[1].weights: row 0 has 3 entries, expected 2".
// `source` is a file name (or "<stdin>", "reply from probe", ...), `field` is the
// path of the offending value inside it. Either may be empty and is then left out.
// A gradient that disagrees is never an InputError: it is a result.

#include <stdexcept>
#include <string>
#include <utility>

namespace gradcheck {

class InputError : public std::invalid_argument {
 public:
  InputError(std::string source, std::string field, std::string problem)
      : std::invalid_argument(compose(source, field, problem)),
        source_(std::move(source)),
        field_(std::move(field)),
        problem_(std::move(problem)) {}

  const std::string& source() const noexcept { return source_; }
  const std::string& field() const noexcept { return field_; }
  const std::string& problem() const noexcept { return problem_; }

  // The same error seen from further out, e.g. a network error re-raised with
  // the file it came from and the path of the network inside that file.
  InputError within(const std::string& source, const std::string& field_prefix) const {
    std::string field = field_prefix;
    if (!field_.empty())
      field = field.empty() ? field_ : field + (field_.front() == '[' ? "" : ".") + field_;
    return InputError(source.empty() ? source_ : source, field, problem_);
  }

 private:
  static std::string compose(const std::string& source, const std::string& field,
                             const std::string& problem) {
    std::string s;
    if (!source.empty()) s += source + ": ";
    if (!field.empty()) s += field + ": ";
    return s + problem;
  }

  std::string source_, field_, problem_;
};

}  // namespace gradcheck
