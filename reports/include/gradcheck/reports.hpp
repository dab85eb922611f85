#pragma once
// gradcheck::reports in one include: the document model, the renderers, atomic writing,
// and the adapters of the result types (docs/reports.md).
#include <gradcheck/reports/check_section.hpp>
#include <gradcheck/reports/document.hpp>
#include <gradcheck/reports/format.hpp>
#include <gradcheck/reports/render.hpp>
#include <gradcheck/reports/report.hpp>
#include <gradcheck/reports/train_section.hpp>
#include <gradcheck/reports/write.hpp>
