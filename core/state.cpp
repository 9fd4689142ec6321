// state.cpp — typed look-ups in a StateDict, with errors that say what is missing.
#include <focalgrad/core/error.h>
#include <focalgrad/core/state.h>

namespace focalgrad {

namespace {

const char* kind_name(const StateValue& v) {
    switch (v.index()) {
        case 0: return "a tensor";
        case 1: return "integers";
        case 2: return "reals";
        default: return "text";
    }
}

template <class T>
const T& get(const StateDict& state, const std::string& key, const char* op, const char* wanted) {
    auto it = state.find(key);
    FG_CHECK(it != state.end(), op, ": state '", key, "' is missing");
    const T* v = std::get_if<T>(&it->second);
    FG_CHECK(v, op, ": state '", key, "' holds ", kind_name(it->second), ", expected ", wanted);
    return *v;
}

}  // namespace

const Tensor& state_tensor(const StateDict& state, const std::string& key, const char* op) {
    const Tensor& t = get<Tensor>(state, key, op, "a tensor");
    FG_CHECK(t.defined(), op, ": state '", key, "' is an undefined tensor");
    return t;
}

const std::vector<int64_t>& state_integers(const StateDict& state, const std::string& key, const char* op) {
    return get<std::vector<int64_t>>(state, key, op, "integers");
}

const std::vector<double>& state_reals(const StateDict& state, const std::string& key, const char* op) {
    return get<std::vector<double>>(state, key, op, "reals");
}

const std::string& state_text(const StateDict& state, const std::string& key, const char* op) {
    return get<std::string>(state, key, op, "text");
}

int64_t state_integer(const StateDict& state, const std::string& key, const char* op) {
    const std::vector<int64_t>& v = state_integers(state, key, op);
    FG_CHECK(v.size() == 1, op, ": state '", key, "' holds ", v.size(), " integers, expected one");
    return v[0];
}

double state_real(const StateDict& state, const std::string& key, const char* op) {
    const std::vector<double>& v = state_reals(state, key, op);
    FG_CHECK(v.size() == 1, op, ": state '", key, "' holds ", v.size(), " reals, expected one");
    return v[0];
}

StateDict sub_state(const StateDict& state, const std::string& prefix) {
    StateDict out;
    for (auto it = state.lower_bound(prefix);
         it != state.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
        out.emplace(it->first.substr(prefix.size()), it->second);
    return out;
}

void merge_state(StateDict& state, const std::string& prefix, const StateDict& part) {
    for (const auto& [key, value] : part) state[prefix + key] = value;
}

}  // namespace focalgrad
