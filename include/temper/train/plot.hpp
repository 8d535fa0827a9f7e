// Minimal SVG charts for training runs: line charts (loss, F1 over steps) and a horizontal bar chart
// (per-label F1). Plain SVG 1.1 text, viewable in any browser; no plotting dependency.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace temper::train {

struct Series {
    std::string name;
    std::vector<double> x, y;
};

namespace detail {

inline std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

inline std::string escape_xml(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '&': out += "&amp;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

inline const char* palette(size_t i) {
    static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
    return colors[i % 6];
}

}  // namespace detail

inline std::string svg_line_chart(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                                  const std::vector<Series>& series) {
    const double W = 640, H = 400, L = 70, R = 150, T = 40, B = 50;  // canvas and margins
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (const auto& s : series)
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            if (!std::isfinite(s.y[i])) continue;
            x0 = std::min(x0, s.x[i]);
            x1 = std::max(x1, s.x[i]);
            y0 = std::min(y0, s.y[i]);
            y1 = std::max(y1, s.y[i]);
        }
    if (!(x0 <= x1)) {
        x0 = 0;
        x1 = 1;
        y0 = 0;
        y1 = 1;
    }
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) {
        y0 -= 0.5;
        y1 += 0.5;
    }
    auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
    using detail::num;
    std::string s =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) + "\" height=\"" + num(H) +
        "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    s += "<text x=\"" + num(W / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" +
         detail::escape_xml(title) + "</text>\n";
    for (int i = 0; i <= 4; ++i) {  // grid and tick labels
        double yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
        s += "<line x1=\"" + num(L) + "\" x2=\"" + num(W - R) + "\" y1=\"" + num(py(yv)) + "\" y2=\"" + num(py(yv)) +
             "\" stroke=\"#ddd\"/>\n";
        s +=
            "<text x=\"" + num(L - 6) + "\" y=\"" + num(py(yv) + 4) + "\" text-anchor=\"end\">" + num(yv) + "</text>\n";
        s += "<text x=\"" + num(px(xv)) + "\" y=\"" + num(H - B + 16) + "\" text-anchor=\"middle\">" + num(xv) +
             "</text>\n";
    }
    s += "<text x=\"" + num((L + W - R) / 2) + "\" y=\"" + num(H - 10) + "\" text-anchor=\"middle\">" +
         detail::escape_xml(xlabel) + "</text>\n";
    s += "<text transform=\"translate(16," + num((T + H - B) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         detail::escape_xml(ylabel) + "</text>\n";
    for (size_t k = 0; k < series.size(); ++k) {
        const auto& se = series[k];
        std::string pts;
        for (size_t i = 0; i < se.x.size() && i < se.y.size(); ++i)
            if (std::isfinite(se.y[i])) pts += num(px(se.x[i])) + "," + num(py(se.y[i])) + " ";
        s += std::string("<polyline fill=\"none\" stroke=\"") + detail::palette(k) +
             "\" stroke-width=\"1.5\" points=\"" + pts + "\"/>\n";
        s += std::string("<rect x=\"") + num(W - R + 12) + "\" y=\"" + num(T + 18 * k) +
             "\" width=\"12\" height=\"12\" fill=\"" + detail::palette(k) + "\"/>\n";
        s += "<text x=\"" + num(W - R + 30) + "\" y=\"" + num(T + 18 * k + 11) + "\">" + detail::escape_xml(se.name) +
             "</text>\n";
    }
    return s + "</svg>\n";
}

// One horizontal bar per label, values in [0, 1] (e.g. per-label F1).
inline std::string svg_bar_chart(const std::string& title, const std::vector<std::string>& labels,
                                 const std::vector<double>& values) {
    const double W = 640, L = 130, R = 60, T = 40, bar = 16, gap = 4;
    const double H = T + double(labels.size()) * (bar + gap) + 30;
    using detail::num;
    std::string s =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) + "\" height=\"" + num(H) +
        "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    s += "<text x=\"" + num(W / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" +
         detail::escape_xml(title) + "</text>\n";
    for (size_t i = 0; i < labels.size() && i < values.size(); ++i) {
        double v = std::clamp(std::isfinite(values[i]) ? values[i] : 0.0, 0.0, 1.0);
        double y = T + double(i) * (bar + gap);
        s += "<text x=\"" + num(L - 6) + "\" y=\"" + num(y + 12) + "\" text-anchor=\"end\">" +
             detail::escape_xml(labels[i]) + "</text>\n";
        s += "<rect x=\"" + num(L) + "\" y=\"" + num(y) + "\" width=\"" + num(v * (W - L - R)) + "\" height=\"" +
             num(bar) + "\" fill=\"#1f77b4\"/>\n";
        s += "<text x=\"" + num(L + v * (W - L - R) + 4) + "\" y=\"" + num(y + 12) + "\">" + num(values[i]) +
             "</text>\n";
    }
    return s + "</svg>\n";
}

}  // namespace temper::train
