// Typed, validated reads of JSON fields for config files: every error names the file, the field,
// what was expected and what was found.
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>

#include "temper/core/error.hpp"

namespace temper::io {

using json = nlohmann::json;

inline std::string json_found(const json& v) {
    std::string s = v.dump();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

// Integer field in [lo, hi]; absent -> fallback.
inline int64_t get_int(const json& j, const std::string& key, int64_t fallback, int64_t lo, int64_t hi,
                       const std::string& where) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    const json& v = j[key];
    if (!v.is_number_integer())
        fail(where, ": field '", key, "': expected an integer in [", lo, ", ", hi, "], found ", json_found(v));
    int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : v.get<int64_t>();
    if (x < lo || x > hi) fail(where, ": field '", key, "': expected an integer in [", lo, ", ", hi, "], found ", x);
    return x;
}

inline double get_double(const json& j, const std::string& key, double fallback, double lo, double hi,
                         const std::string& where) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    const json& v = j[key];
    if (!v.is_number())
        fail(where, ": field '", key, "': expected a number in [", lo, ", ", hi, "], found ", json_found(v));
    double x = v.get<double>();
    if (!(x >= lo && x <= hi)) fail(where, ": field '", key, "': expected a number in [", lo, ", ", hi, "], found ", x);
    return x;
}

inline bool get_bool(const json& j, const std::string& key, bool fallback, const std::string& where) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_boolean()) fail(where, ": field '", key, "': expected true or false, found ", json_found(j[key]));
    return j[key].get<bool>();
}

inline std::string get_string(const json& j, const std::string& key, const std::string& fallback,
                              const std::string& where) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_string()) fail(where, ": field '", key, "': expected a string, found ", json_found(j[key]));
    return j[key].get<std::string>();
}

// Reads obj[key] as T, or `fallback` when the key is absent or null; wrong types name the field.
template <class T>
T json_get(const nlohmann::json& obj, const char* key, const T& fallback, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        // nlohmann converts floats and out-of-range integers with a plain cast (UB for 1e300).
        const bool fits = it->is_number_unsigned()
                              ? std::in_range<T>(it->template get<uint64_t>())
                              : it->is_number_integer() && std::in_range<T>(it->template get<int64_t>());
        if (!fits)
            fail(where, ": field '", key, "': expected an integer in [", std::numeric_limits<T>::min(), ", ",
                 std::numeric_limits<T>::max(), "], found ", it->dump());
        return it->template get<T>();
    }
    try {
        return it->get<T>();
    } catch (const nlohmann::json::exception&) {
        fail(where, ": field '", key, "' has the wrong type (found ", it->type_name(), ")");
    }
}

inline json parse_json_file(const std::string& text, const std::string& where) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e11111
        fail(where, ": not valid JSON (", e.what(), ")");
    }
    return j;
}

}  // namespace temper::io
