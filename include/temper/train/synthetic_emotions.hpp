// The embedded default dataset: multi-label emotion sentences the project writes itself, so the quickstart
// runs anywhere with no download. Each sentence expresses one or two of five emotions through templated
// phrases (cue words are shared between templates and some emotions, and every sentence carries neutral
// filler), so a model has to learn which words signal which emotion rather than match whole sentences.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "temper/core/random.hpp"

namespace temper::train {

struct SyntheticExample {
    std::string text;
    std::vector<int> labels;  // label ids into synthetic_emotion_names()
};

inline const std::vector<std::string>& synthetic_emotion_names() {
    static const std::vector<std::string> names = {"anger", "fear", "joy", "sadness", "surprise"};
    return names;
}

namespace detail {

inline size_t pick(Generator& g, size_t n) { return size_t(g.uniform() * float(n)) % n; }

template <size_t N>
const char* pick(Generator& g, const std::array<const char*, N>& a) {
    return a[pick(g, N)];
}

// Per emotion: feeling words ("I feel ___"), and clauses that describe the emotion without naming it.
struct EmotionLexicon {
    std::array<const char*, 8> feel;
    std::array<const char*, 6> clause;
};

inline const std::array<EmotionLexicon, 5>& lexicon() {
    static const std::array<EmotionLexicon, 5> lex = {{
        {{"angry", "furious", "annoyed", "irritated", "livid", "outraged", "mad", "fed up"},
         {"they lied to me again", "nobody listened to a word I said", "he broke his promise",
          "the service was rude and slow", "she took credit for my work", "someone keyed my car"}},
        {{"scared", "afraid", "terrified", "nervous", "anxious", "frightened", "worried", "uneasy"},
         {"the footsteps came closer in the dark", "the test results are not back yet", "the plane kept shaking",
          "I heard a noise downstairs", "the storm is getting worse", "my hands would not stop trembling"}},
        {{"happy", "delighted", "thrilled", "glad", "cheerful", "joyful", "overjoyed", "excited"},
         {"we finally won the game", "my best friend is visiting", "I got the job", "the whole family laughed together",
          "the sun came out for the picnic", "my garden is blooming"}},
        {{"sad", "heartbroken", "miserable", "down", "gloomy", "unhappy", "lonely", "depressed"},
         {"my old dog passed away", "everyone forgot my birthday", "the house feels so empty",
          "we said goodbye at the station", "I miss my grandmother", "the letter never came"}},
        {{"surprised", "amazed", "astonished", "shocked", "stunned", "startled", "speechless", "blown away"},
         {"I never expected that ending", "out of nowhere they threw me a party", "the quiet kid won first prize",
          "my sister showed up unannounced", "the price was ten times lower", "it snowed in july"}},
    }};
    return lex;
}

inline std::string phrase(Generator& g, int emotion) {
    static const std::array<const char*, 6> feel_frames = {"i feel %",      "i am so %",    "honestly i was %",
                                                           "we were all %", "she seemed %", "this makes me %"};
    static const std::array<const char*, 4> clause_frames = {"because %", "when %", "since %", "after %"};
    const EmotionLexicon& lex = lexicon()[size_t(emotion)];
    std::string frame = pick(g, feel_frames);
    std::string out = frame.replace(frame.find('%'), 1, pick(g, lex.feel));
    if (g.uniform() < 0.7f) {
        std::string c = pick(g, clause_frames);
        out += " " + c.replace(c.find('%'), 1, pick(g, lex.clause));
    }
    return out;
}

}  // namespace detail

// n examples, 1 or 2 distinct emotions each (about 35% have two), deterministic for a seed.
inline std::vector<SyntheticExample> make_synthetic_emotions(size_t n, uint64_t seed) {
    static const std::array<const char*, 8> openers = {"",       "",       "well, ",     "to be honest, ",
                                                       "today ", "ok so ", "yesterday ", "right now "};
    static const std::array<const char*, 5> joiners = {" but also ", " and ", ", yet ", " while ", " and then "};
    static const std::array<const char*, 7> fillers = {"",           "", "", " at work", " at home", " this morning",
                                                       " on the bus"};
    Generator g(seed);
    std::vector<SyntheticExample> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        SyntheticExample ex;
        int a = int(detail::pick(g, 5));
        ex.labels.push_back(a);
        std::string text = std::string(detail::pick(g, openers)) + detail::phrase(g, a);
        if (g.uniform() < 0.35f) {
            int b = int(detail::pick(g, 4));
            if (b >= a) ++b;  // a different emotion
            ex.labels.push_back(b);
            text += std::string(detail::pick(g, joiners)) + detail::phrase(g, b);
        }
        text += detail::pick(g, fillers);
        if (g.uniform() < 0.5f) text += g.uniform() < 0.5f ? "!" : ".";
        ex.text = std::move(text);
        out.push_back(std::move(ex));
    }
    return out;
}

}  // namespace temper::train
