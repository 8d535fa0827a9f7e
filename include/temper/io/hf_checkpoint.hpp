// HF checkpoint directories: open model.safetensors or a sharded model.safetensors.index.json, load tensors
// into a module by name (converting F16/BF16/F32/F64 to the module's type), and report every missing,
// unexpected and mis-shaped tensor by name; and the way back, a module's parameters as one safetensors file.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "temper/io/json_fields.hpp"
#include "temper/io/safetensors.hpp"
#include "temper/nn/module.hpp"

namespace temper::io {

// All tensors of a checkpoint directory, by name, whichever file (shard) holds them.
class Checkpoint {
public:
    static Checkpoint open(const std::string& dir) {
        namespace fs = std::filesystem;
        Checkpoint ck;
        ck.dir_ = dir;
        check(fs::is_directory(dir), dir,
              ": not a directory (expected a HF checkpoint directory with config.json and "
              "model.safetensors)");
        fs::path single = fs::path(dir) / "model.safetensors", index = fs::path(dir) / "model.safetensors.index.json";
        if (fs::exists(single)) {
            ck.files_.push_back(std::make_unique<SafeTensors>(SafeTensors::open(single.string())));
            for (const auto& t : ck.files_[0]->tensors()) ck.where_[t.name] = 0;
        } else if (fs::exists(index)) {
            ck.open_sharded(index.string());
        } else if (fs::exists(fs::path(dir) / "pytorch_model.bin")) {
            fail(dir,
                 ": has only pytorch_model.bin (a pickle); temper reads safetensors. Convert it once with "
                 "transformers: AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)");
        } else {
            fail(dir, ": no model.safetensors or model.safetensors.index.json found");
        }
        return ck;
    }

    const std::string& dir() const { return dir_; }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& [n, _] : where_) out.push_back(n);
        return out;
    }
    bool contains(const std::string& name) const { return where_.count(name) != 0; }
    const SafeTensors& file_of(const std::string& name) const {
        auto it = where_.find(name);
        if (it == where_.end()) fail(dir_, ": no tensor named '", name, "'");
        return *files_[it->second];
    }
    const TensorInfo& info(const std::string& name) const { return file_of(name).at(name); }
    // Elements in all tensors: what the files really hold, an upper bound for what a load may allocate.
    uint64_t total_numel() const {
        uint64_t n = 0;
        for (const auto& f : files_)
            for (const auto& t : f->tensors()) n += uint64_t(t.numel());
        return n;
    }

private:
    void open_sharded(const std::string& index_path) {
        json j = parse_json_file(read_text_file(index_path), index_path);
        check(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(), index_path,
              ": field 'weight_map': expected an object {tensor name: shard file}");
        std::map<std::string, size_t> shard_ids;
        for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
            check(it.value().is_string(), index_path, ": field 'weight_map': entry '", it.key(),
                  "' is not a file name");
            std::string file = it.value().get<std::string>();
            check(file.find('/') == std::string::npos && file.find("..") == std::string::npos, index_path,
                  ": field 'weight_map': shard '", file, "' must be a plain file name inside the directory");
            auto [pos, inserted] = shard_ids.emplace(file, files_.size());
            if (inserted)
                files_.push_back(
                    std::make_unique<SafeTensors>(SafeTensors::open((std::filesystem::path(dir_) / file).string())));
            check(files_[pos->second]->find(it.key()) != nullptr, index_path, ": tensor '", it.key(), "' is mapped to ",
                  file, " but that file does not contain it");
            where_[it.key()] = pos->second;
        }
        // Tensors present in shards but not in the index are still loadable; the index wins on conflicts.
        for (size_t f = 0; f < files_.size(); ++f)
            for (const auto& t : files_[f]->tensors()) where_.emplace(t.name, f);
    }

    std::string dir_;
    std::vector<std::unique_ptr<SafeTensors>> files_;
    std::map<std::string, size_t> where_;
};

// What a load found, by tensor name.
struct LoadReport {
    std::vector<std::string> loaded, missing, unexpected, mismatched, ignored, initialized;

    bool ok() const { return missing.empty() && mismatched.empty(); }
    std::string summary() const {
        std::string s;
        auto list = [&](const char* what, const std::vector<std::string>& v) {
            if (v.empty()) return;
            s += str(what, " (", v.size(), "):");
            for (const auto& n : v) s += "\n  " + n;
            s += "\n";
        };
        list("missing tensors", missing);
        list("tensors with the wrong shape", mismatched);
        list("unexpected tensors (not used)", unexpected);
        list("ignored tensors (pre-training head, not part of this model)", ignored);
        list("newly initialised (not in the checkpoint)", initialized);
        return s;
    }
};

// How checkpoint names map to module names, and which model tensors may be absent.
struct LoadRules {
    std::function<std::optional<std::string>(const std::string&)> rename;  // nullopt: not ours
    std::function<bool(const std::string&)> ignore;                        // known extras, dropped with a note
    std::function<bool(const std::string&)> may_be_missing;                // e.g. a fresh classification head
};

// Copies checkpoint tensors into the module's parameters (in place). Throws, listing every problem,
// when a required tensor is missing or any shape differs.
template <class T>
LoadReport load_into(nn::Module<T>& model, const Checkpoint& ck, const LoadRules& rules) {
    std::map<std::string, Tensor<T>*> params;
    model.for_each_parameter([&](const std::string& n, Tensor<T>& p) { params[n] = &p; });
    LoadReport rep;
    std::map<std::string, std::string> source;  // model name -> checkpoint name
    for (const std::string& name : ck.names()) {
        if (rules.ignore && rules.ignore(name)) {
            rep.ignored.push_back(name);
            continue;
        }
        auto target = rules.rename ? rules.rename(name) : std::optional<std::string>(name);
        if (!target || !params.count(*target)) {
            rep.unexpected.push_back(name);
            continue;
        }
        if (source.count(*target)) {
            rep.unexpected.push_back(name + " (duplicate of " + source[*target] + ")");
            continue;
        }
        source[*target] = name;
        const TensorInfo& ti = ck.info(name);
        Tensor<T>& p = *params[*target];
        if (Shape(ti.shape.begin(), ti.shape.end()) != p.shape()) {
            rep.mismatched.push_back(
                str(name, ": checkpoint ", shape_str(ti.shape), ", model expects ", shape_str(p.shape())));
        }
    }
    for (const auto& [n, p] : params) {
        if (source.count(n)) continue;
        if (rules.may_be_missing && rules.may_be_missing(n))
            rep.initialized.push_back(n);
        else
            rep.missing.push_back(n);
    }
    if (!rep.ok()) fail(ck.dir(), ": checkpoint does not match the model\n", rep.summary());
    for (const auto& [target, name] : source) {
        std::vector<T> values = ck.file_of(name).template read_as<T>(name);
        Tensor<T>& p = *params[target];
        if (p.device().is_cpu())
            std::copy(values.begin(), values.end(), p.data());
        else
            p.copy_(Tensor<T>::from_vector(values, p.shape()).to(p.device()));  // a model already on the GPU
        rep.loaded.push_back(name);
    }
    return rep;
}

// Every parameter of the module under its dotted name, stored as dtype (F32, BF16 or F16; rounded once from
// the module's type), written atomically to path with the {"format": "pt"} metadata HF expects.
template <class T>
void save_weights(nn::Module<T>& model, const std::string& path, DType dtype = DType::F32) {
    check(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16, "save_weights: dtype ", dtype_name(dtype),
          " is not supported (F32, BF16 or F16)");
    std::vector<std::vector<std::byte>> buffers;
    std::vector<TensorToWrite> tensors;
    model.for_each_parameter([&](const std::string& name, Tensor<T>& p) {
        auto v = p.to_vector();
        std::vector<std::byte> bytes(v.size() * dtype_size(dtype));
        for (size_t i = 0; i < v.size(); ++i) {
            float f = float(v[i]);
            if (dtype == DType::F32)
                std::memcpy(bytes.data() + 4 * i, &f, 4);
            else if (dtype == DType::BF16) {
                uint16_t b = bf16::from_float(f).bits;
                std::memcpy(bytes.data() + 2 * i, &b, 2);
            } else {
                uint16_t b = f16::from_float(f).bits;
                std::memcpy(bytes.data() + 2 * i, &b, 2);
            }
        }
        buffers.push_back(std::move(bytes));
        tensors.push_back({name, dtype, p.shape(), {}});
    });
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = buffers[i];
    save_safetensors(path, tensors, {{"format", "pt"}});
}

}  // namespace temper::io
