// The text module: Unicode tables, BERT normalizer and pre-tokenizer, WordPiece tokenizer, trainer.
#pragma once

#include "temper/text/normalizer.hpp"
#include "temper/text/pre_tokenizer.hpp"
#include "temper/text/trainer.hpp"
#include "temper/text/unicode.hpp"
#include "temper/text/wordpiece.hpp"
