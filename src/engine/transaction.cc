#include "engine/transaction.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <cstring>
#include <vector>
#include <functional>
#include <set>

#include "engine/content_decoder.h"
#include "engine/ascii.h"
#include "engine/known_texts.h"
#include "engine/front_queue.h"
#include "engine/grpc_walker.h"
#include "engine/json_tokenizer.h"
#include "engine/short_bytes.h"
#include "engine/segment_scanner.h"

namespace leakscope {

namespace {

// `mask` repeated and cut to exactly `length` bytes ('*' for an empty mask).
void AppendMaskOfLength(std::string_view mask, uint64_t length, std::string* out) {
  if (mask.empty()) mask = "*";
  for (uint64_t i = 0; i < length; ++i) out->push_back(mask[i % mask.size()]);
}

// Where a match was found: a JSON key or value, a text body, a header. An enum on the match path
// (compared several times per match); MatchRecord::context carries its name.
enum class Where : uint8_t { kKey, kValue, kText, kHeader };

std::string_view WhereName(Where w) {  // views of literals: no strlen per match
  switch (w) {
    case Where::kKey: return "key";
    case Where::kValue: return "value";
    case Where::kText: return "text";
    case Where::kHeader: return "header";
  }
  return "text";
}

uint64_t Distance(uint64_t ab, uint64_t ae, uint64_t bb, uint64_t be) {
  if (bb >= ae) return bb - ae;
  if (ab >= be) return ab - be;
  return 0;
}

}  // namespace

// All analysis state of one direction.
class Transaction::DirectionState : public JsonTokenizer::Sink {
 public:
  DirectionState(const CompiledPolicy* cp, std::shared_ptr<const ResolvedEndpoint> endpoint,
                 const TransactionOptions* opts, Direction d, PolicyCache* cache)
      : cp_(cp), endpoint_(std::move(endpoint)), opts_(opts), cache_(cache), scanner_(cp) {
    hits_cb_ = [this](std::vector<SegmentScanner::Hit>& hits, std::string_view buf, uint64_t base) {
      OnHits(hits, buf, base);
    };
    decoded_sink_ = [this](std::string_view piece) { return OnDecoded(piece); };
    report_.direction = d;
    report_.policy_path = endpoint_->policy_path;
  }
  ~DirectionState() {
    if (batch_ != nullptr && cache_ != nullptr) {
      batch_->Clear();
      batch_->KeepReportStorage(&report_.categories, &report_slots_);
      cache_->ReturnScratch(std::move(batch_));
    }
  }
  DirectionState(const DirectionState&) = delete;
  DirectionState& operator=(const DirectionState&) = delete;

  void OnHeaders(const HeaderList& headers) {
    for (const auto& [name, value] : headers) {
      if (AsciiEqualsIgnoreCase(name, "content-type")) report_.content_type = value;
      if (AsciiEqualsIgnoreCase(name, "grpc-encoding")) grpc_encoding_ = value;
      if (AsciiEqualsIgnoreCase(name, "content-encoding")) {  // repeated fields form one list (RFC 9110 5.3)
        if (!content_encoding_.empty()) content_encoding_ += ", ";
        content_encoding_ += value;
      }
    }
    Setup();
    // Header scanning: one short segment per header value, with the plan's finders for it (its
    // path is written only if something matches).
    for (const auto& [raw_name, value] : headers) {
      const std::vector<int>& finders = plan_->HeaderFinders(raw_name);
      if (finders.empty()) continue;
      seg_ = Segment();
      seg_.context = Where::kHeader;
      seg_.header = true;
      seg_.header_name = raw_name;
      seg_.lazy_path = true;
      scanner_.Begin(&finders);
      scanner_.Feed(value, OnHitsCallback());
      scanner_.End(OnHitsCallback());
      EvaluateCorrelations(0, /*final=*/true);
      seg_ = Segment();
    }
    report_.analyzed = report_.analyzed || endpoint_->matched;
  }

  void OnBody(std::string_view chunk, bool end_of_stream, std::string* out) {
    if (!setup_) Setup();
    if (out == nullptr && redacting_) {
      // A caller that forwards the body itself while this direction would hold it back (a body
      // given without its headers): it leaves as received, so no redaction applies and a block
      // can only stop what follows. Said once; the analysis goes on.
      redacting_ = false;
      report_.warnings.push_back("body not held back (the host forwarded it as received): redactions were not applied");
    }
    TakeKnownTexts();
    if (decoder_) {
      OnEncodedBody(chunk, end_of_stream, out);
      return;
    }
    report_.body_bytes += chunk.size();
    // The analysis limit: bytes past it are forwarded unanalysed and the report says so.
    std::string_view analyzed = chunk;
    if (opts_->max_analyzed_bytes > 0) {
      uint64_t room = opts_->max_analyzed_bytes > report_.analyzed_bytes
                          ? opts_->max_analyzed_bytes - report_.analyzed_bytes
                          : 0;
      if (analyzed.size() > room) analyzed = analyzed.substr(0, room);
    }
    if (active_ && !stopped_) {
      if (redacting_) held_.append(analyzed);
      FeedParser(analyzed);
      report_.analyzed_bytes += analyzed.size();
    }
    std::string_view rest = chunk.substr(analyzed.size());
    // Noted once what precedes the limit has been parsed, as OnDecoded does: what the parser
    // says about those bytes comes first in the report however the body was chunked.
    if (!rest.empty()) NoteAnalysisLimit();
    if (end_of_stream && active_ && !stopped_) {
      FinishParser();
      stopped_ = true;
    }
    if (redacting_) {
      if (!rest.empty()) {
        // Past the analysis limit: release everything analysed, then pass the rest through.
        if (!stopped_) FinishParser();
        stopped_ = true;
        Release(UINT64_MAX, out);
        out->append(rest);
      } else {
        Release(stopped_ ? UINT64_MAX : SafeReleasePoint(), out);
      }
    } else if (out != nullptr) {
      out->append(chunk);
    }
  }

  const DirectionReport& report() const { return report_; }
  bool redacting() const { return redacting_; }

 private:
  void NoteAnalysisLimit() {
    if (report_.truncated) return;
    report_.truncated = true;
    report_.warnings.push_back("analysis limit of " + std::to_string(opts_->max_analyzed_bytes) +
                               " bytes reached; the rest of the body passed unanalysed");
  }

  // ---- compressed bodies ----

  // A body with a Content-Encoding: the decoded bytes go to the parser, the received bytes are
  // what is forwarded (a compressed body cannot be rewritten in place).
  void OnEncodedBody(std::string_view chunk, bool end_of_stream, std::string* out) {
    report_.body_bytes += chunk.size();
    if (!stopped_) {
      Status s = decoder_->Decode(chunk, decoded_sink_);
      if (s.ok() && end_of_stream) s = decoder_->Finish(decoded_sink_);
      if (!s.ok()) {
        // What was decoded before the problem has been analysed; finish it, then say why the
        // rest was not.
        FinishParser();
        stopped_ = true;
        if (s.code() == StatusCode::kResourceExhausted) {
          report_.truncated = true;
          report_.warnings.push_back(s.message() + "; the rest of the body passed unanalysed");
        } else {
          // After FinishParser: a JSON body cut short by bad compressed data reports its own
          // truncation, but the decoding error is the cause.
          report_.parse_error = s.message();
          report_.warnings.push_back(s.message() + "; the rest of the body was not analysed");
        }
      } else if (decoder_->stopped() || end_of_stream) {  // analysis limit, or the end
        FinishParser();
        stopped_ = true;
      }
    }
    if (!redacting_) {
      if (out != nullptr) out->append(chunk);
      return;
    }
    // Block hold-back on received chunks: decoded offsets (what the scanner knows) map to chunk
    // boundaries only, so a chunk leaves once everything it decoded to is safe.
    if (block_at_ == UINT64_MAX && !chunk.empty()) {
      held_.append(chunk);
      held_chunks_.emplace_back(HeldChunk{released_ + held_.size(), raw_consumed_});
    }
    ReleaseEncoded(stopped_ ? UINT64_MAX : SafeReleasePoint(), out);
  }

  // Decoded bytes, in pieces of at most ContentDecoder::kPieceBytes. Returns false once the
  // analysis limit is reached, which stops decoding: nothing past it would be looked at.
  bool OnDecoded(std::string_view piece) {
    bool more = true;
    if (opts_->max_analyzed_bytes > 0) {
      uint64_t room = opts_->max_analyzed_bytes > report_.analyzed_bytes
                          ? opts_->max_analyzed_bytes - report_.analyzed_bytes
                          : 0;
      if (piece.size() > room) {
        piece = piece.substr(0, static_cast<size_t>(room));
        more = false;
      }
    }
    FeedParser(piece);
    report_.analyzed_bytes += piece.size();
    if (!more) NoteAnalysisLimit();
    return more;
  }

  // Releases the held chunks whose decoded bytes all lie before `safe` and before any blocked
  // match (decoded offsets).
  void ReleaseEncoded(uint64_t safe, std::string* out) {
    const uint64_t limit = std::min(safe, block_at_);
    uint64_t upto = released_;
    for (; !held_chunks_.empty() && held_chunks_.front().dec_end <= limit; held_chunks_.pop_front()) {
      upto = held_chunks_.front().raw_end;
    }
    const size_t n = static_cast<size_t>(upto - released_);
    out->append(held_, 0, n);
    held_.erase(0, n);
    released_ = upto;
    if (block_at_ != UINT64_MAX) {
      // Chunks that decode past the blocked match never leave: keep none of them in memory.
      while (!held_chunks_.empty() && held_chunks_.back().dec_end > block_at_) held_chunks_.pop_back();
      held_.resize(held_chunks_.empty() ? 0 : static_cast<size_t>(held_chunks_.back().raw_end - released_));
    }
  }

  ContentDecoderOptions DecoderOptions() const {
    ContentDecoderOptions o;
    if (opts_->max_decoded_bytes > 0) {
      o.max_decoded_bytes = opts_->max_decoded_bytes;
    } else if (opts_->max_analyzed_bytes > 0) {
      o.max_decoded_bytes = opts_->max_analyzed_bytes;
    }  // else the decoder's default (64 MiB)
    return o;
  }

  struct Segment {
    bool active = false;
    bool identity = true;    // segment offset + raw_base == raw offset
    bool header = false;
    bool is_key = false;
    bool is_number = false;
    uint64_t raw_base = 0;
    uint64_t raw_end = 0;    // known once the scalar ended
    bool ended = false;
    std::string path;
    bool lazy_path = false;  // path is "header:" and the header's name, or the tokenizer's current path
    std::string_view header_name;  // while a header value is scanned
    Where context = Where::kText;
    bool rewritable = true;  // its raw offsets are its own bytes (not a compressed gRPC message's)
  };
  struct Piece {  // decoded [dec, dec+dec_len) came from raw [raw, raw+raw_len)
    uint64_t dec, dec_len, raw, raw_len;
    // Byte i of the decoded bytes is raw byte raw + i. Said explicitly rather than read from equal
    // lengths: a scalar of a compressed gRPC message maps to the whole message, which can happen to
    // be as long as the scalar.
    bool verbatim;
  };
  // A match: raw offsets, its text, the scalar's path and context. Recorded from views of the
  // scanned text and path (MatchView, valid while hits are delivered); copied (Candidate) only
  // while a correlation decides on it: most matches are recorded at once, and copying their text
  // and path cost two allocations per match.
  template <typename Text>
  struct Match {
    uint64_t begin, end;  // raw offsets
    Text text;
    Text path;
    Where context;
    bool number;
    uint64_t scalar_begin, scalar_end;
    bool rewritable;  // redaction can rewrite [begin, end) (Segment::rewritable)
  };
  using MatchView = Match<std::string_view>;
  struct Candidate : Match<std::string> {
    explicit Candidate(const MatchView& m)
        : Match<std::string>{m.begin, m.end, std::string(m.text), std::string(m.path), m.context, m.number,
                             m.scalar_begin, m.scalar_end, m.rewritable} {}
    MatchView view() const {
      return MatchView{begin, end, text, path, context, number, scalar_begin, scalar_end, rewritable};
    }
  };
  static bool BeginsBefore(const Candidate& a, const Candidate& b) { return a.begin < b.begin; }
  // Queues `m` in the order candidates begin: made in place at the back, as nearly all come.
  static void Enqueue(FrontQueue<Candidate>* queue, const MatchView& m) {
    if (queue->empty() || queue->back().begin <= m.begin) {
      queue->emplace_back(m);
    } else {
      queue->insert_ordered(Candidate(m), BeginsBefore);
    }
  }
  // Both queues are ordered by where candidates begin (they mostly come in that order), so that
  // a primary is compared only with the secondaries that can be near it: comparing each with
  // every queued one was quadratic (a text of "phone 5551234567" pairs: 0.1 MB/s).
  struct CategoryState {
    std::vector<FrontQueue<Candidate>> pending;      // per correlate: primaries awaiting a verdict
    std::vector<FrontQueue<Candidate>> secondaries;  // per correlate
    std::vector<uint64_t> longest_secondary;         // per correlate: the longest span queued so far
    std::set<std::pair<uint64_t, uint64_t>> reported;  // spans reported via correlation

    void AddSecondary(size_t correlate, const MatchView& m) {
      longest_secondary[correlate] = std::max(longest_secondary[correlate], m.end - m.begin);
      Enqueue(&secondaries[correlate], m);
    }
  };
  struct Redaction {
    uint64_t begin, end;
    std::string replacement;
  };
  struct HeldChunk {  // a received chunk of a compressed body, held for a block decision
    uint64_t raw_end;  // raw offset just past the chunk
    uint64_t dec_end;  // decoded offset reached once the chunk was decoded
  };

  // Decides the parser and which finders run in which context.
  void Setup() {
    if (setup_) return;
    setup_ = true;
    const CompiledPolicy& cp = *cp_;
    const SearchScope body_scope =
        report_.direction == Direction::kRequest ? SearchScope::kRequestBody : SearchScope::kResponseBody;
    plan_ = cache_ != nullptr ? cache_->Plan(cp, endpoint_, body_scope, report_.content_type)
                              : std::make_shared<const ScanPlan>(cp.PlanScan(*endpoint_, body_scope, report_.content_type));
    report_.parser = plan_->parser;
    redacting_ = plan_->redacts;
    if (opts_->hold_bodies) redacting_ = true;
    active_ = endpoint_->matched && !plan_->none && plan_->has_finders();
    report_.analyzed = endpoint_->matched;
    if (!active_) redacting_ = false;
    if (!content_encoding_.empty()) {
      std::unique_ptr<ContentDecoder> decoder = ContentDecoder::Create(content_encoding_, DecoderOptions());
      report_.content_encoding = decoder->encoding();
      if (!decoder->identity() && active_) {
        if (!decoder->status().ok()) {
          // Scanning coded bytes would find nothing and pass for a clean body: say so instead.
          report_.warnings.push_back(decoder->status().message() + "; the body was not analysed");
          active_ = false;
          redacting_ = false;
        } else {
          decoder_ = std::move(decoder);
          // Compressed bytes cannot be rewritten: only a block decision needs the hold-back.
          redacting_ = plan_->blocks;
        }
      }
    }
    if (structured_batches()) {
      // The pool holds nothing but batch scratches.
      if (cache_ != nullptr) batch_.reset(static_cast<BatchScratch*>(cache_->TakeScratch().release()));
      if (batch_ == nullptr) {
        batch_ = std::make_unique<BatchScratch>();
        // One allocation each rather than a series of growths (a 1 KiB body has ~50 scalars).
        batch_->values.reserve(64);
        for (int kind = 0; kind < 2; ++kind) {
          batch_->of_kind[kind].reserve(64);
          batch_->text[kind].Reserve(2048);
        }
        batch_->paths.Reserve(2048);
        batch_->marks.reserve(64);
      }
      if (report_.categories.empty() && report_slots_.empty()) {  // nothing recorded yet (always, here)
        report_.categories.swap(batch_->categories);
        report_slots_.swap(batch_->report_slots);
      }
    }
    if (plan_->json && active_) {
      JsonTokenizer::Limits limits;
      limits.max_depth = opts_->json_max_depth;
      if (batch_ != nullptr && batch_->json != nullptr) {
        batch_->json->Reset(this, limits);
      } else if (batch_ != nullptr) {
        batch_->json = std::make_unique<JsonTokenizer>(this, limits);
      } else {
        own_parser_ = std::make_unique<JsonTokenizer>(this, limits);
      }
      structured_ = batch_ != nullptr ? batch_->json.get() : own_parser_.get();
    } else if (plan_->grpc && active_) {
      GrpcWalker::Limits limits;
      // Compressed messages decode under the same cap as a compressed body.
      limits.max_decoded_bytes = DecoderOptions().max_decoded_bytes;
      auto walker = std::make_unique<GrpcWalker>(this, limits);
      walker->SetMessageEncoding(grpc_encoding_);
      structured_ = walker.get();
      own_parser_ = std::move(walker);
    }
  }

  // Points known_ at the cache's tables for this chunk's finders; they may not outlive it (see
  // PolicyCache::KnownTextsFor). Without them (no cache, or a policy update since the
  // transaction began), the transaction's own tables, if it has made them.
  void TakeKnownTexts() {
    if (!structured_batches()) return;
    const std::vector<int>* finders[2] = {&plan_->key_finders, &plan_->value_finders};
    for (int kind = 0; kind < 2; ++kind) {
      KnownTexts* shared = cache_ != nullptr && !finders[kind]->empty() ? cache_->KnownTextsFor(cp_, kind == 0, *finders[kind]) : nullptr;
      known_[kind] = shared != nullptr ? shared : own_known_[kind].get();
    }
  }

  bool structured_batches() const { return active_ && opts_->batch_values && (plan_->json || plan_->grpc); }

  // Whether the batch is scanned at the end of a chunk. A stream that holds nothing back (no
  // redaction or block to apply before bytes leave) needs its matches only when it ends, so its
  // scalars wait for later chunks until kDeferredFlushBytes of them have gathered: each scan of
  // a batch has a fixed cost (trigger bitmaps, a call per finder: ~14k instructions, measured),
  // which a body arriving in 1 KiB chunks paid per chunk. The bound keeps what a stream holds
  // between chunks to about what one chunk held before. Progress() counts waiting scalars as
  // unscanned, so correlations wait for them; every chunk takes the cache's known-text tables
  // anew (TakeKnownTexts), so a later scan remembers texts under its own finders.
  bool FlushDue() const {
    if (redacting_ || batch_ == nullptr) return true;
    return batch_->text[0].size() + batch_->text[1].size() + batch_->text[2].size() >= kDeferredFlushBytes ||
           batch_->values.size() >= kDeferredFlushValues;
  }

  // ---- parsers ----

  void FeedParser(std::string_view data) {
    if (data.empty()) return;
    if (structured_ && !structured_->failed()) {
      uint64_t chunk_base = raw_consumed_;
      structured_->Feed(data);
      if (FlushDue()) FlushBatch();
      if (structured_->failed()) {
        StructuredParserFailed();
        // Scan the rest of this chunk, from where parsing stopped, as text.
        uint64_t from = structured_->error_offset();
        if (from < chunk_base + data.size()) {
          size_t skip = from > chunk_base ? static_cast<size_t>(from - chunk_base) : 0;
          scanner_.Feed(data.substr(skip), OnHitsCallback());
        }
      }
    } else {
      if (!seg_.active) BeginTextSegment(raw_consumed_);
      scanner_.Feed(data, OnHitsCallback());
    }
    raw_consumed_ += data.size();
    EvaluateCorrelations(Progress(), false);
  }

  void FinishParser() {
    if (structured_ && !structured_->failed()) {
      if (!structured_->Finish()) {
        report_.parse_error = structured_->error();
      }
      FlushBatch();
    } else if (seg_.active) {
      scanner_.End(OnHitsCallback());
      seg_.active = false;
    }
    if (structured_ != nullptr) {
      if (std::string unread = structured_->Unread(); !unread.empty()) report_.warnings.push_back(std::move(unread));
    }
    EvaluateCorrelations(UINT64_MAX, /*final=*/true);
    ClampMatchesToAnalysedBytes();
    if ((scanner_.limit_hit() || batch_limit_hit_) && !limit_warned_) {
      limit_warned_ = true;
      report_.warnings.push_back("a PCRE2 pattern hit its backtracking limit; some of its matches may be missing");
    }
  }

  // A compressed gRPC message's matches span the message as its length prefix declared it; a body
  // that ended (or an analysis that stopped) inside the message had only part of those bytes.
  void ClampMatchesToAnalysedBytes() {
    if (!plan_->grpc) return;  // other parsers' matches lie in the bytes they were given
    for (CategoryReport& c : report_.categories) {
      for (MatchRecord& m : c.matches) {
        if (m.context == "header" || m.offset + m.length <= raw_consumed_) continue;
        m.length = m.offset < raw_consumed_ ? raw_consumed_ - m.offset : 0;
      }
    }
  }

  void StructuredParserFailed() {
    report_.parse_error = structured_->error();
    report_.warnings.push_back(std::string(structured_->name()) + " parsing stopped (" + structured_->error() +
                               "); the rest of the body was scanned as text");
    if (seg_.active) OnScalarEnd(structured_->error_offset());  // an open scalar: keep its content
    FlushBatch();
    BeginTextSegment(structured_->error_offset());
  }

  // Resets the segment without giving up the path string's capacity.
  void ResetSegment() {
    seg_.active = false;
    seg_.identity = true;
    seg_.header = false;
    seg_.is_key = false;
    seg_.is_number = false;
    seg_.raw_base = 0;
    seg_.raw_end = 0;
    seg_.ended = false;
    seg_.path.clear();
    seg_.lazy_path = false;
    seg_.context = Where::kText;
    seg_.rewritable = true;
  }

  void BeginTextSegment(uint64_t raw_base) {
    ResetSegment();
    seg_.active = true;
    seg_.identity = true;
    seg_.raw_base = raw_base;
    seg_.context = Where::kText;
    pieces_.clear();
    scanner_.Begin(&plan_->text_finders);
  }

  // A scalar waiting in the batch.
  struct BatchedValue {
    size_t text_begin, text_end;    // in batch_->text[text_kind]
    size_t path_begin, path_end;    // in batch_->paths
    size_t piece_begin, piece_end;  // in batch_->pieces
    uint64_t raw_base, raw_end;
    bool is_key, is_number;
    bool identity = false;          // its bytes are the body's from raw_base on (no pieces)
    bool rewritable = true;         // Segment::rewritable
    bool hit = false;               // a finder matched it
    uint8_t text_kind = 0;          // kKeysText, kValuesText, or kKnownText: not scanned, its hits known
    // Its matches in batch_->known_hits: known ones (kKnownText), or a scanned scalar's to
    // remember in the KnownTexts (kUnrecordedHits: too many, or none yet).
    uint8_t hits_count = kUnrecordedHits;
    size_t hits_begin = 0;
  };
  static constexpr int kKeysText = 0, kValuesText = 1, kKnownText = 2;
  static constexpr uint8_t kUnrecordedHits = 0xFF;
  // The batch text a scalar goes to: its kind's, or, with known matches, none the finders scan.
  static int TextKind(bool is_key, const KnownTexts::Hits* hits) {
    return hits != nullptr ? kKnownText : is_key ? kKeysText : kValuesText;
  }

  // ScalarSink
  //
  // Short scalars (the vast majority) are collected into a batch and scanned together when the
  // chunk has been tokenized (FlushBatch): a per-value scan costs a prefilter pass and a call
  // per finder for every value, which dominated JSON throughput. A scalar that grows past
  // kMaxBatchedValueBytes leaves the batch and streams through the block scanner.
  void OnScalarBegin(bool is_key, bool is_number, uint64_t raw_offset) override {
    ResetSegment();
    seg_.active = true;
    seg_.identity = false;
    seg_.is_key = is_key;
    seg_.is_number = is_number;
    seg_.raw_base = raw_offset;
    seg_.context = is_key ? Where::kKey : Where::kValue;
    seg_.lazy_path = true;  // built only if something matches: most scalars never do
    seg_.rewritable = structured_ == nullptr || structured_->rewritable();
    pieces_.clear();
    dec_total_ = 0;
    if (opts_->batch_values) {
      collecting_ = true;
      value_begin_ = batch_->text[is_key ? 0 : 1].size();
      value_piece_begin_ = batch_->pieces.size();
    } else {
      scanner_.Begin(is_key ? &plan_->key_finders : &plan_->value_finders);
    }
  }
  void OnScalarData(std::string_view decoded, uint64_t raw_begin, uint64_t raw_end) override {
    // A collected scalar's mapping goes straight to the batch; a streamed one's to pieces_.
    std::vector<Piece>& pieces = collecting_ ? batch_->pieces : pieces_;
    const size_t first_piece = collecting_ ? value_piece_begin_ : 0;
    const bool verbatim = seg_.rewritable && decoded.size() == raw_end - raw_begin;
    if (verbatim && pieces.size() > first_piece && pieces.back().verbatim &&
        pieces.back().raw + pieces.back().raw_len == raw_begin) {
      pieces.back().dec_len += decoded.size();
      pieces.back().raw_len += decoded.size();
    } else {
      pieces.push_back(Piece{dec_total_, decoded.size(), raw_begin, raw_end - raw_begin, verbatim});
    }
    dec_total_ += decoded.size();
    if (collecting_) {
      ByteBuffer& text = batch_->text[seg_.is_key ? 0 : 1];
      text.Append(decoded);
      if (text.size() - value_begin_ <= kMaxBatchedValueBytes) return;
      // Too long for the batch: scan what precedes it, then stream this scalar.
      std::string so_far(text.view().substr(value_begin_));
      text.Truncate(value_begin_);
      pieces_.assign(batch_->pieces.begin() + static_cast<std::ptrdiff_t>(value_piece_begin_), batch_->pieces.end());
      batch_->pieces.resize(value_piece_begin_);
      collecting_ = false;
      FlushBatch();
      scanner_.Begin(seg_.is_key ? &plan_->key_finders : &plan_->value_finders);
      scanner_.Feed(so_far, OnHitsCallback());
      return;
    }
    scanner_.Feed(decoded, OnHitsCallback());
    // Forget mapping pieces the scanner can no longer report on.
    if (pieces_.size() > 64) {
      size_t drop = 0;
      while (drop + 1 < pieces_.size() && pieces_[drop + 1].dec + pieces_[drop + 1].dec_len < scanner_.buffer_base()) {
        ++drop;
      }
      pieces_.erase(pieces_.begin(), pieces_.begin() + static_cast<std::ptrdiff_t>(drop));
    }
  }
  // A whole verbatim scalar (most are): straight into the batch, its bytes mapping one to one to
  // the body's, so it needs no mapping pieces.
  void OnScalar(bool is_key, bool is_number, uint64_t raw_offset, std::string_view text) override {
    if (!opts_->batch_values || text.size() > kMaxBatchedValueBytes || collecting_) {
      ScalarSink::OnScalar(is_key, is_number, raw_offset, text);
      return;
    }
    const KnownTexts* known = known_[is_key ? 0 : 1];
    const KnownTexts::Hits* hits = known != nullptr ? known->Find(text) : nullptr;
    if (hits != nullptr && hits->count == 0) return;  // clean
    // A text known to match is batched with its matches (copied: the table may change before
    // the batch is scanned), outside the texts the finders scan.
    BatchScratch& batch = *batch_;
    ByteBuffer& joined = batch.text[TextKind(is_key, hits)];
    const size_t text_begin = joined.size();
    joined.Append(text);
    AddToBatch(is_key, is_number, text_begin, batch.pieces.size(), raw_offset, raw_offset + text.size(),
               /*identity=*/true, hits);
  }

  void OnScalarEnd(uint64_t raw_end) override {
    seg_.raw_end = raw_end;
    seg_.ended = true;
    seg_.active = false;
    if (!collecting_) {
      scanner_.End(OnHitsCallback());
      return;
    }
    collecting_ = false;
    AddToBatch(seg_.is_key, seg_.is_number, value_begin_, value_piece_begin_, seg_.raw_base, raw_end,
               /*identity=*/false, nullptr);
  }

  // Completes the batch entry of a scalar whose text was appended to its batch text (TextKind)
  // from `text_begin` on (and whose mapping pieces, unless `identity`, from `piece_begin` on);
  // `hits` are its known matches, if any.
  void AddToBatch(bool is_key, bool is_number, size_t text_begin, size_t piece_begin, uint64_t raw_base,
                  uint64_t raw_end, bool identity, const KnownTexts::Hits* hits) {
    BatchScratch& batch = *batch_;  // once: stores through the buffers could alias batch_
    const int text_kind = TextKind(is_key, hits);
    ByteBuffer& joined = batch.text[text_kind];
    BatchedValue v;
    v.text_begin = text_begin;
    v.text_end = joined.size();
    joined.Push('\n');
    v.path_begin = batch.paths.size();
    structured_->AppendCurrentPath(&batch.paths);
    v.path_end = batch.paths.size();
    v.piece_begin = piece_begin;
    v.piece_end = batch.pieces.size();
    v.raw_base = raw_base;
    v.raw_end = raw_end;
    v.is_key = is_key;
    v.is_number = is_number;
    v.identity = identity;
    v.rewritable = identity || seg_.rewritable;  // a scalar collected in pieces: seg_ is its own
    v.text_kind = static_cast<uint8_t>(text_kind);
    if (hits != nullptr) {
      v.hits_begin = batch.known_hits.size();
      v.hits_count = hits->count;
      batch.known_hits.insert(batch.known_hits.end(), hits->hit.begin(), hits->hit.begin() + hits->count);
    }
    batch.of_kind[text_kind].push_back(batch.values.size());
    batch.values.push_back(v);
    if (joined.size() >= kMaxBatchBytes || batch.paths.size() >= kMaxBatchBytes || batch.values.size() >= kMaxBatchValues) {
      FlushBatch();
    }
  }

  // Scans the batched scalars, keys and values each joined on their own. Each joinable finder
  // (CompiledPolicy::joinable) runs once over a joined text; it finds every match of each scalar
  // there (and maybe more, across joins), so only scalars its matches touch can have matches.
  // A match inside one scalar is taken as it is when the finder is joined_exact and no other of
  // its matches runs into that scalar; otherwise the scalar is scanned again on its own. Either
  // way the result is exactly what a scan of each scalar alone gives (tested). Other finders
  // run on each scalar, behind the short-text prefilter.
  void FlushBatch() {
    if (batch_ == nullptr || batch_->values.empty()) return;
    BatchScratch& batch = *batch_;  // once: stores through the buffers could alias batch_
    // Delivering hits borrows seg_ and pieces_; a scalar still being collected keeps its own.
    Segment open_segment = std::move(seg_);
    open_pieces_.swap(pieces_);
    const CompiledPolicy& cp = *cp_;
    batch.marks.clear();
    for (int kind = 0; kind < 2; ++kind) {  // 0: keys, 1: values, each joined on its own
      const std::vector<size_t>& members = batch.of_kind[kind];
      if (members.empty()) continue;
      const std::vector<int>& finders = kind == 0 ? plan_->key_finders : plan_->value_finders;
      std::string_view joined = batch.text[kind].view();
      TriggerIndex& index = TriggerIndex::ForThread(TriggerIndex::Scratch::kBatch);
      index.Reset(cp_, joined);
      bool per_value = false;
      for (int f : finders) {
        if (!cp.joinable(f)) {
          per_value = true;
          continue;
        }
        batch.found.clear();
        cp.finders()[f]->FindAll(joined, 0, &batch.found, &batch_limit_hit_, &index);
        const bool exact = cp.joined_exact(f);
        size_t from = 0;  // no scalar before this one reaches past the previous hit's start
        uint64_t previous_begin = 0;
        for (const Span& hit : batch.found) {
          if (hit.begin < previous_begin) from = 0;  // finders give matches in order; in case not
          previous_begin = hit.begin;
          size_t k = FirstReaching(members, from, hit.begin);
          from = k;
          if (k == members.size()) break;
          const BatchedValue& first = batch.values[members[k]];
          if (exact && hit.begin >= first.text_begin && hit.end <= first.text_end) {
            batch.marks.push_back(Mark{members[k], f, false, Span{hit.begin - first.text_begin, hit.end - first.text_begin}});
            continue;
          }
          for (; k < members.size() && batch.values[members[k]].text_begin < hit.end; ++k) {
            batch.marks.push_back(Mark{members[k], f, true, Span{}});
          }
        }
      }
      if (!per_value) continue;
      for (size_t v : members) {
        if (batch.values[v].text_end == batch.values[v].text_begin) continue;
        std::string_view text = joined.substr(batch.values[v].text_begin, batch.values[v].text_end - batch.values[v].text_begin);
        bool prefiltered = cp.Prefilter(CompiledPolicy::PrefilterKind::kShortText, text, &batch.may_match);
        for (int f : finders) {
          if (cp.joinable(f)) continue;
          if (prefiltered && cp.prefiltered(CompiledPolicy::PrefilterKind::kShortText, f) && !batch.may_match[f]) continue;
          batch.marks.push_back(Mark{v, f, true, Span{}});
        }
      }
    }
    for (size_t v : batch.of_kind[kKnownText]) {
      const BatchedValue& known = batch.values[v];
      for (size_t h = known.hits_begin; h < known.hits_begin + known.hits_count; ++h) {
        const KnownTexts::Hit& hit = batch.known_hits[h];
        batch.marks.push_back(Mark{v, hit.finder, false, Span{hit.begin, hit.end}});
      }
    }
    // Per scalar and finder: the joined scan's own matches when they are exact (or known), else
    // a scan of the scalar alone.
    GroupMarksByValue();
    for (size_t i = 0; i < batch.marks.size();) {
      const size_t value = batch.marks[i].value;
      const BatchedValue& v = batch.values[value];
      std::string_view text = batch.text[v.text_kind].view().substr(v.text_begin, v.text_end - v.text_begin);
      batch.hits.clear();
      while (i < batch.marks.size() && batch.marks[i].value == value) {
        const int f = batch.marks[i].finder;
        size_t end = i;
        bool rescan = false;
        for (; end < batch.marks.size() && batch.marks[end].value == value && batch.marks[end].finder == f; ++end) {
          rescan |= batch.marks[end].rescan;
        }
        if (rescan) {  // replaces the joined scan's matches of this finder in this scalar
          batch.found.clear();
          cp.finders()[f]->FindAll(text, 0, &batch.found, &batch_limit_hit_);
          for (const Span& m : batch.found) batch.hits.push_back(SegmentScanner::Hit{f, m});
        } else {
          for (; i < end; ++i) batch.hits.push_back(SegmentScanner::Hit{f, batch.marks[i].span});
        }
        i = end;
      }
      if (batch.hits.empty()) continue;
      batch.values[value].hit = true;
      if (v.text_kind != kKnownText) RecordHitsToRemember(&batch.values[value], text.size());
      ResetSegment();
      seg_.identity = v.identity;
      seg_.rewritable = v.rewritable;
      seg_.is_key = v.is_key;
      seg_.is_number = v.is_number;
      seg_.raw_base = v.raw_base;
      seg_.raw_end = v.raw_end;
      seg_.ended = true;
      seg_.context = v.is_key ? Where::kKey : Where::kValue;
      seg_.path.assign(batch.paths.view().substr(v.path_begin, v.path_end - v.path_begin));
      pieces_.assign(batch.pieces.begin() + static_cast<std::ptrdiff_t>(v.piece_begin),
                     batch.pieces.begin() + static_cast<std::ptrdiff_t>(v.piece_end));
      OnHits(batch.hits, text, 0);
    }
    // Remember clean scalars, and keys with the matches RecordHitsToRemember kept: in the shared
    // tables from the first byte, in the transaction's own once the body is long enough for
    // repeats to pay for a table. Not after a PCRE2 limit hit: a scalar may then look clean, or
    // hold fewer matches, only because of the limit.
    if (!batch_limit_hit_) {
      for (int kind = 0; kind < 2; ++kind) {
        if (known_[kind] == nullptr && batch.values.back().raw_end >= kKnownTextsFromBytes && !batch.of_kind[kind].empty()) {
          own_known_[kind] = std::make_unique<KnownTexts>();
          known_[kind] = own_known_[kind].get();
        }
      }
      for (const BatchedValue& v : batch.values) {
        KnownTexts* known = known_[v.is_key ? 0 : 1];
        if (known == nullptr || v.text_kind == kKnownText || v.text_end - v.text_begin > KnownTexts::kMaxBytes) continue;
        const std::string_view text = batch.text[v.text_kind].view().substr(v.text_begin, v.text_end - v.text_begin);
        if (!v.hit) {
          known->Insert(text);
        } else if (v.hits_count != kUnrecordedHits) {
          KnownTexts::Hits hits;
          hits.count = v.hits_count;
          std::copy_n(batch.known_hits.begin() + static_cast<std::ptrdiff_t>(v.hits_begin), v.hits_count, hits.hit.begin());
          known->Insert(text, hits);
        }
      }
    }
    seg_ = std::move(open_segment);
    open_pieces_.swap(pieces_);
    // Keep only the text of a scalar still being collected.
    for (int kind = 0; kind < 2; ++kind) {
      const bool open = collecting_ && (kind == 0) == seg_.is_key;
      batch.text[kind].EraseFront(open ? value_begin_ : batch.text[kind].size());
      batch.of_kind[kind].clear();
    }
    batch.text[kKnownText].Truncate(0);
    batch.of_kind[kKnownText].clear();
    batch.known_hits.clear();
    value_begin_ = 0;
    const size_t keep_pieces_from = collecting_ ? value_piece_begin_ : batch.pieces.size();
    batch.pieces.erase(batch.pieces.begin(), batch.pieces.begin() + static_cast<std::ptrdiff_t>(keep_pieces_from));
    value_piece_begin_ = 0;
    batch.values.clear();
    batch.paths.Truncate(0);
  }

  // Keeps the matches just found in a scanned scalar (batch_->hits) for the KnownTexts, if they
  // fit one of its entries and the scalar is a key matched only by the policy's own words (a
  // field name such as `first_name`): the shared tables then hold schema, never a value or a
  // key that a pattern deems sensitive (an e-mail address as a map's key).
  void RecordHitsToRemember(BatchedValue* v, size_t text_bytes) {
    BatchScratch& batch = *batch_;
    if (!v->is_key || text_bytes > KnownTexts::kMaxBytes || batch.hits.size() > KnownTexts::kMaxHits) return;
    for (const SegmentScanner::Hit& h : batch.hits) {
      if (!cp_->literal(h.finder) || h.finder > UINT16_MAX || h.span.end > text_bytes) return;
    }
    v->hits_begin = batch.known_hits.size();
    v->hits_count = static_cast<uint8_t>(batch.hits.size());
    for (const SegmentScanner::Hit& h : batch.hits) {
      batch.known_hits.push_back(KnownTexts::Hit{static_cast<uint16_t>(h.finder), static_cast<uint8_t>(h.span.begin),
                                                 static_cast<uint8_t>(h.span.end)});
    }
  }

  // The first of `members` (batched scalars in text order), at or after `from`, whose text with
  // its separator reaches past `pos`: none before `from` does. A joined text's matches come in
  // order, so the search gallops forward from the previous match's scalar: a binary search over
  // the whole batch per match cost a third of the batch bookkeeping (cache misses, measured).
  size_t FirstReaching(const std::vector<size_t>& members, size_t from, uint64_t pos) const {
    const std::vector<BatchedValue>& values = batch_->values;
    auto before = [&](size_t v) { return values[v].text_end + 1 <= pos; };
    size_t lo = from;
    size_t hi = from;
    for (size_t step = 1; hi < members.size() && before(members[hi]); step *= 2) {
      lo = hi + 1;
      hi += step;
    }
    const auto end = members.begin() + static_cast<std::ptrdiff_t>(std::min(hi, members.size()));
    return static_cast<size_t>(std::partition_point(members.begin() + static_cast<std::ptrdiff_t>(lo), end, before) -
                               members.begin());
  }

  // Orders the batch's marks by scalar, keeping their order within a scalar: marks are made finder by
  // finder, so each finder's marks of a scalar stay together. A counting sort (batches hold at
  // most kMaxBatchValues scalars) where std::sort cost a tenth of a key-heavy scan.
  void GroupMarksByValue() {
    BatchScratch& batch = *batch_;
    if (batch.marks.size() < 2) return;
    batch.mark_starts.assign(batch.values.size() + 1, 0);
    for (const Mark& m : batch.marks) ++batch.mark_starts[m.value + 1];
    for (size_t v = 1; v < batch.mark_starts.size(); ++v) batch.mark_starts[v] += batch.mark_starts[v - 1];
    batch.grouped_marks.resize(batch.marks.size());
    for (const Mark& m : batch.marks) batch.grouped_marks[batch.mark_starts[m.value]++] = m;
    batch.marks.swap(batch.grouped_marks);
  }

  // Raw offset before which no new match can start.
  uint64_t Progress() const {
    const uint64_t held = structured_ ? structured_->undelivered_from() : UINT64_MAX;
    if (batch_ != nullptr && !batch_->values.empty()) return std::min(held, batch_->values.front().raw_base);  // not yet scanned
    if (!seg_.active) return std::min(held, raw_consumed_);
    if (collecting_) return std::min(held, seg_.raw_base);
    return std::min(held, MapBegin(scanner_.finalized()));
  }

  uint64_t MapBegin(uint64_t dec) const {
    if (seg_.identity || seg_.header) return seg_.raw_base + dec;
    if (pieces_.empty()) return seg_.raw_base;
    auto it = std::upper_bound(pieces_.begin(), pieces_.end(), dec,
                               [](uint64_t v, const Piece& p) { return v < p.dec; });
    if (it == pieces_.begin()) return pieces_.front().raw;
    const Piece& p = *(it - 1);
    if (dec >= p.dec + p.dec_len) return p.raw + p.raw_len;
    if (p.verbatim) return p.raw + (dec - p.dec);
    return p.raw;
  }
  uint64_t MapEnd(uint64_t dec) const {
    if (seg_.identity || seg_.header) return seg_.raw_base + dec;
    if (dec == 0 || pieces_.empty()) return MapBegin(dec);
    auto it = std::upper_bound(pieces_.begin(), pieces_.end(), dec - 1,
                               [](uint64_t v, const Piece& p) { return v < p.dec; });
    if (it == pieces_.begin()) return pieces_.front().raw;
    const Piece& p = *(it - 1);
    if (p.verbatim) return p.raw + (dec - p.dec);
    return p.raw + p.raw_len;
  }

  // ---- matching ----

  // Built once: constructing a std::function per scalar would allocate on the hot path.
  const SegmentScanner::Callback& OnHitsCallback() { return hits_cb_; }

  void OnHits(std::vector<SegmentScanner::Hit>& hits, std::string_view buf, uint64_t base) {
    const CompiledPolicy& cp = *cp_;
    // In body order (so values are reported in it); identical spans from two rules of one category
    // and role end up adjacent and count once.
    auto key = [&cp](const SegmentScanner::Hit& h) {
      return std::make_tuple(h.span.begin, h.span.end, cp.finder_owner(h.finder), cp.finder_correlate(h.finder));
    };
    std::sort(hits.begin(), hits.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
    hits.erase(std::unique(hits.begin(), hits.end(), [&](const auto& a, const auto& b) { return key(a) == key(b); }),
               hits.end());
    if (seg_.lazy_path && seg_.header) {
      seg_.path = "header:" + AsciiToLower(seg_.header_name);
      seg_.lazy_path = false;
    } else if (seg_.lazy_path && structured_) {
      seg_.path = structured_->CurrentPath();
      seg_.lazy_path = false;
    }
    for (const SegmentScanner::Hit& h : hits) {
      int c = cp.finder_owner(h.finder);
      int role = cp.finder_correlate(h.finder);
      std::string_view text = buf.substr(h.span.begin - base, h.span.end - h.span.begin);
      const MatchView cand{MapBegin(h.span.begin), MapEnd(h.span.end), text, seg_.path, seg_.context,
                           seg_.is_number, seg_.raw_base, seg_.raw_end, seg_.rewritable};
      if (role >= 0) {
        Correlating(c).AddSecondary(static_cast<size_t>(role), cand);
        continue;
      }
      const CompiledCategory& cat = cp.categories()[c];
      bool drop = false;
      for (const WholeTextTest& t : cat.excepts) {
        if (t.Test(cp, text)) { drop = true; break; }
      }
      for (size_t g = 0; !drop && g < cat.ands.size(); ++g) {
        for (const WholeTextTest& t : cat.ands[g]) {
          if (!t.Test(cp, text)) { drop = true; break; }
        }
      }
      if (drop) continue;
      for (int k : cat.correlated_by) {
        const auto& corrs = cp.categories()[k].correlates;
        for (size_t j = 0; j < corrs.size(); ++j) {
          if (corrs[j].match_group == c) Correlating(k).AddSecondary(j, cand);
        }
      }
      if (plan_->slot_of_category[c] < 0) continue;  // scanned only as another category's match_group
      if (cat.correlates.empty()) {
        Record(plan_->slot_of_category[c], cand);
      } else {
        for (size_t j = 0; j < cat.correlates.size(); ++j) Enqueue(&Correlating(c).pending[j], cand);
      }
    }
  }

  // The state of category `c`, a category with correlates, with its queues made: most
  // transactions never see a correlate's candidate.
  CategoryState& Correlating(int c) {
    // Made on first use too: most directions (every request without a body) never need one.
    if (cat_state_.empty()) cat_state_.resize(cp_->categories().size());
    CategoryState& st = cat_state_[static_cast<size_t>(c)];
    if (st.pending.empty()) {
      const size_t n = cp_->categories()[static_cast<size_t>(c)].correlates.size();
      st.pending.resize(n);
      st.secondaries.resize(n);
      st.longest_secondary.assign(n, 0);
    }
    return st;
  }

  void EvaluateCorrelations(uint64_t progress, bool final) {
    const CompiledPolicy& cp = *cp_;
    for (size_t c = 0; c < cat_state_.size(); ++c) {
      const auto& corrs = cp.categories()[c].correlates;
      CategoryState& st = cat_state_[c];
      if (corrs.empty() || st.pending.empty()) continue;  // no candidate yet
      for (size_t j = 0; j < corrs.size(); ++j) {
        const CompiledCorrelate& corr = corrs[j];
        auto& pending = st.pending[j];
        auto& secs = st.secondaries[j];
        while (!pending.empty()) {
          Candidate& p = pending.front();
          if (!final && (progress == UINT64_MAX ? false : progress < p.end + corr.max_distance)) break;
          // The secondaries that can be near p, in the order they begin: none that begins
          // before `from` reaches p (none is longer than the longest queued), and none after one
          // that begins past p's reach does.
          const uint64_t reach = corr.max_distance + st.longest_secondary[j];
          const uint64_t from = p.begin > reach ? p.begin - reach : 0;
          auto first = std::lower_bound(secs.begin(), secs.end(), from,
                                        [](const Candidate& s, uint64_t at) { return s.begin < at; });
          for (auto it = first; it != secs.end(); ++it) {
            const Candidate& s = *it;
            if (s.begin > p.end + corr.max_distance) break;
            if (Distance(p.begin, p.end, s.begin, s.end) > corr.max_distance) continue;
            if (plan_->slot_of_category[c] < 0) break;
            switch (corr.interest) {
              case CorrelateInterest::kPrimary:
                RecordOnce(c, p);
                break;
              case CorrelateInterest::kSecondary:
                RecordOnce(c, s);
                continue;  // every nearby secondary is of interest
              case CorrelateInterest::kAll: {
                const Candidate& first = p.begin <= s.begin ? p : s;
                const Candidate& second = p.begin <= s.begin ? s : p;
                Candidate all = first;
                all.end = std::max(first.end, second.end);
                // The bytes between the two matches may have left the scanner's buffer, so the
                // value is both matches joined by the size of the gap: bounded, and the same for
                // every chunking of the body.
                if (second.end > first.end) {
                  if (second.begin >= first.end) {
                    uint64_t gap = second.begin - first.end;
                    if (gap > 0) all.text += "<" + std::to_string(gap) + " bytes>";
                    all.text += second.text;
                  } else {
                    uint64_t overlap = first.end - second.begin;
                    if (overlap < second.text.size()) all.text += second.text.substr(static_cast<size_t>(overlap));
                  }
                }
                RecordOnce(c, all);
                break;
              }
            }
            if (corr.interest != CorrelateInterest::kSecondary) break;
          }
          pending.pop_front();
        }
        // Secondaries too far behind everything still to come can go.
        uint64_t horizon = pending.empty() ? progress : std::min(progress, pending.front().begin);
        uint64_t window = corr.max_distance + cp.options().max_match_bytes + 1;
        while (!secs.empty() && !final && horizon != UINT64_MAX && secs.front().end + window < horizon) {
          secs.pop_front();
        }
        if (final) {
          secs.clear();
          st.reported.clear();
        }
      }
      // Forget reported spans that nothing still to be decided can repeat: everything that
      // starts before the earliest pending primary (or the scan position) minus the widest
      // correlation window. The set is ordered by start, so this is one range erase.
      if (!final && !st.reported.empty()) {
        uint64_t horizon = progress;
        uint64_t widest = 0;
        for (size_t j = 0; j < corrs.size(); ++j) {
          if (!st.pending[j].empty()) horizon = std::min(horizon, st.pending[j].front().begin);
          widest = std::max(widest, corrs[j].max_distance);
        }
        uint64_t window = widest + 2 * cp.options().max_match_bytes;
        if (horizon != UINT64_MAX && horizon > window) {
          st.reported.erase(st.reported.begin(), st.reported.lower_bound({horizon - window, 0}));
        }
      }
    }
  }

  void RecordOnce(size_t c, const Candidate& cand) {
    if (!cat_state_[c].reported.insert({cand.begin, cand.end}).second) return;
    Record(plan_->slot_of_category[c], cand.view());
  }

  void Record(int slot, const MatchView& cand) {
    const ResolvedCategory& rc = endpoint_->categories[slot];
    if (!rc.ignore.empty() && std::find(rc.ignore.begin(), rc.ignore.end(), cand.text) != rc.ignore.end()) return;
    // report_.categories is in report-slot order, and report_slots_ holds each entry's slot.
    size_t at = 0;
    while (at < report_slots_.size() && report_slots_[at] < rc.report_slot) ++at;
    CategoryReport* cr;
    if (at < report_slots_.size() && report_slots_[at] == rc.report_slot) {
      cr = &report_.categories[at];
    } else {
      CategoryReport fresh = batch_ != nullptr ? batch_->TakeSpareEntry() : CategoryReport();
      fresh.name = rc.report_name;
      fresh.category = cp_->categories()[rc.category].name;
      fresh.tag = cp_->categories()[rc.category].tag;
      fresh.action = rc.action;
      fresh.report_style = rc.report_style;
      // Room for a few matches at once: growing from one kept reallocating and moving the
      // records of a category that matches a handful of times in a response (most of them).
      const size_t room = std::min<size_t>(opts_->max_values_per_category, 4);
      fresh.matches.reserve(room);
      if (rc.report_style != ReportStyle::kNone) fresh.values.reserve(room);
      // One allocation for the categories a report can have, not a growth per new one.
      if (report_.categories.empty()) {
        report_.categories.reserve(endpoint_->categories.size());
        report_slots_.reserve(endpoint_->categories.size());
      }
      report_slots_.insert(report_slots_.begin() + static_cast<std::ptrdiff_t>(at), rc.report_slot);
      cr = &*report_.categories.insert(report_.categories.begin() + static_cast<std::ptrdiff_t>(at), std::move(fresh));
    }
    ++cr->count;
    if (cand.context == Where::kHeader) ++cr->header_count;
    if (cr->matches.size() < opts_->max_values_per_category) {
      std::string_view reported = cand.text;
      if (rc.contexts.values_key && cand.context == Where::kValue) reported = cand.path;
      if (rc.report_style != ReportStyle::kNone) {
        cr->values.push_back(ApplyReportStyle(reported, rc.report_style, rc.report_bits));
      }
      MatchRecord m;
      m.path.assign(cand.path);
      m.context = WhereName(cand.context);
      m.offset = cand.begin;
      m.length = cand.end - cand.begin;
      cr->matches.push_back(std::move(m));
    } else {
      cr->values_truncated = true;
    }
    if (rc.action == Action::kBlock) {
      report_.decision = Decision::kBlock;
      // Nothing from the first blocked match on may be released.
      if (cand.context != Where::kHeader) block_at_ = std::min(block_at_, cand.begin);
    } else if (rc.action == Action::kRedact && cand.context != Where::kHeader &&
               (decoder_ || !cand.rewritable)) {
      // Compressed bytes cannot be rewritten in place (a Content-Encoding, or a compressed gRPC
      // message, whose matches' offsets are the whole message's bytes): the match is reported,
      // the body leaves unmodified, and the decision stays what was actually done. The cause is
      // the body's coding whenever there is one (decoder_ is fixed by Setup): one warning.
      if (!redaction_skipped_warned_) {
        redaction_skipped_warned_ = true;
        report_.warnings.push_back(decoder_ ? "redaction skipped: body is " + report_.content_encoding + "-encoded"
                                            : "redaction skipped: matches in compressed gRPC messages are reported only");
      }
    } else if (rc.action == Action::kRedact && (cand.context == Where::kHeader || redacting_)) {
      // (A body match while not redacting: the host forwarded the body as received, OnBody's
      // warning; nothing was redacted and the decision stays.)
      if (report_.decision == Decision::kContinue) report_.decision = Decision::kRedact;
      if (cand.context != Where::kHeader) {
        AddRedaction(rc, cand);
      } else if (!header_redact_warned_) {
        header_redact_warned_ = true;
        report_.warnings.push_back("redaction applies to bodies; matches in headers are reported only");
      }
    }
  }

  void AddRedaction(const ResolvedCategory& rc, const MatchView& cand) {
    Redaction r;
    if (plan_->json && cand.number && cand.context == Where::kValue) {
      // Masking digits inside a JSON number would leave invalid JSON: the whole number becomes
      // the mask as a string.
      r.begin = cand.scalar_begin;
      r.end = cand.scalar_end;
      AppendJsonString(rc.redact_mask, &r.replacement);
    } else {
      r.begin = cand.begin;
      r.end = cand.end;
      if (plan_->grpc) {
        // Protobuf length prefixes must stay true: the mask is repeated or cut to the match's
        // length.
        AppendMaskOfLength(rc.redact_mask, r.end - r.begin, &r.replacement);
      } else if (structured_ && cand.context != Where::kText) {
        AppendJsonEscaped(rc.redact_mask, &r.replacement);
      } else {
        r.replacement = rc.redact_mask;
      }
    }
    if (r.end <= released_) return;  // defensive: never rewrite bytes already sent
    // Appended, and put in order by the next release: matches mostly come in order, but those
    // a correlation decides at the body's end come after all others, and inserting each in its
    // place was quadratic in them.
    if (!redactions_.empty() && r.begin < redactions_.back().begin) redactions_ordered_ = false;
    redactions_.push_back(std::move(r));
  }

  // Raw offset up to which body bytes can be released: nothing before it can still be redacted.
  uint64_t SafeReleasePoint() const {
    uint64_t safe = Progress();
    if (seg_.active && seg_.is_number) safe = std::min(safe, seg_.raw_base);
    for (const CategoryState& st : cat_state_) {
      for (const auto& pending : st.pending) {
        if (!pending.empty()) safe = std::min(safe, pending.front().begin);
      }
    }
    return safe;
  }

  void Release(uint64_t upto, std::string* out) {
    uint64_t held_end = released_ + held_.size();
    upto = std::min(upto, held_end);
    if (block_at_ != UINT64_MAX) {
      upto = std::min(upto, std::max(block_at_, released_));
      held_end = std::min(held_end, upto);
    }
    if (!redactions_ordered_) {
      // Stable: redactions that begin at one byte keep the order they came in.
      std::stable_sort(redactions_.begin(), redactions_.end(),
                       [](const Redaction& a, const Redaction& b) { return a.begin < b.begin; });
      redactions_ordered_ = true;
    }
    size_t consumed = 0;  // bytes of held_ consumed
    uint64_t pos = released_;
    // Applied redactions leave the list together at the end: one at a time from its front was
    // quadratic in the redactions a release applies (a text of SSNs held whole by a caller that
    // feeds it in one piece: 25 000 of them took seconds).
    size_t applied = 0;
    for (; applied < redactions_.size() && redactions_[applied].begin < upto; ++applied) {
      Redaction& r = redactions_[applied];
      if (r.end > upto && upto != held_end) {
        upto = std::max(pos, r.begin);  // wait until the whole span can be rewritten
        break;
      }
      if (r.begin > pos) {
        out->append(held_, consumed, static_cast<size_t>(r.begin - pos));
        consumed += static_cast<size_t>(r.begin - pos);
        pos = r.begin;
      }
      if (r.end > pos) {
        if (r.begin >= redacted_until_) out->append(r.replacement);
        uint64_t end = std::min(r.end, held_end);
        consumed += static_cast<size_t>(end - pos);
        pos = end;
      }
      redacted_until_ = std::max(redacted_until_, r.end);
    }
    redactions_.erase(redactions_.begin(), redactions_.begin() + static_cast<std::ptrdiff_t>(applied));
    if (upto > pos) {
      out->append(held_, consumed, static_cast<size_t>(upto - pos));
      consumed += static_cast<size_t>(upto - pos);
      pos = upto;
    }
    held_.erase(0, consumed);
    released_ = pos;
  }

  const CompiledPolicy* cp_;
  std::shared_ptr<const ResolvedEndpoint> endpoint_;
  const TransactionOptions* opts_;
  PolicyCache* cache_;  // the host's, or nullptr
  DirectionReport report_;
  std::vector<int> report_slots_;  // per entry of report_.categories, its ResolvedCategory::report_slot
  bool setup_ = false;
  bool active_ = false;
  bool stopped_ = false;
  bool redacting_ = false;
  bool limit_warned_ = false;
  bool header_redact_warned_ = false;
  bool redaction_skipped_warned_ = false;
  std::shared_ptr<const ScanPlan> plan_;  // set up by Setup
  std::vector<CategoryState> cat_state_;
  SegmentScanner scanner_;
  SegmentScanner::Callback hits_cb_;
  ScalarParser* structured_ = nullptr;  // the JSON or gRPC parser, if the body has one: batch_->json,
  std::unique_ptr<ScalarParser> own_parser_;  // or this
  Segment seg_;
  std::vector<Piece> pieces_;  // capacity reused across scalars: no allocation per value
  // Batched JSON scalars (see OnScalarBegin); capacities are reused across batches.
  static constexpr size_t kMaxBatchedValueBytes = 4096;
  static constexpr uint64_t kKnownTextsFromBytes = 16 * 1024;
  // Clean texts of keys and of values: the PolicyCache's tables for this chunk (TakeKnownTexts),
  // else the transaction's own, created past kKnownTextsFromBytes.
  KnownTexts* known_[2] = {nullptr, nullptr};
  std::unique_ptr<KnownTexts> own_known_[2];
  static constexpr size_t kMaxBatchBytes = 64 * 1024;
  static constexpr size_t kDeferredFlushBytes = 8 * 1024;  // see FlushDue
  static constexpr size_t kDeferredFlushValues = 512;
  static constexpr size_t kMaxBatchValues = 4096;  // bounds memory for chunks of tiny scalars
  // What the joined scan says about one scalar of the batch and one finder: a match of the
  // scalar (`span`, scalar offsets) or, with `rescan`, that the scalar must be scanned alone.
  struct Mark {
    size_t value;
    int finder;
    bool rescan;
    Span span;
  };
  bool collecting_ = false;  // the open scalar goes to the batch
  size_t value_begin_ = 0;   // its start in batch_->text of its kind
  size_t value_piece_begin_ = 0;  // its first piece in batch_->pieces
  // The batch's buffers. A 1 KiB body's transaction allocated and freed them each time (a
  // tenth of its cost, more in wasm), so they come from the PolicyCache's pool when there is one
  // and go back to it, emptied, when the direction ends.
  struct BatchScratch : TransactionScratch {
    ByteBuffer text[3];  // keys, values (each joined by '\n'), known texts (not scanned)
    std::vector<size_t> of_kind[3];  // indices into values of the scalars in each text
    std::vector<KnownTexts::Hit> known_hits;  // BatchedValue::hits_begin
    ByteBuffer paths;
    std::vector<Piece> pieces;
    std::vector<BatchedValue> values;
    std::vector<Mark> marks;
    std::vector<Mark> grouped_marks;  // GroupMarksByValue's scratch
    std::vector<size_t> mark_starts;  // likewise
    std::vector<Span> found;
    std::vector<SegmentScanner::Hit> hits;
    std::vector<bool> may_match;
    // The JSON tokenizer, reset for each body (JsonTokenizer::Reset): its frames and paths keep
    // their capacity too.
    std::unique_ptr<JsonTokenizer> json;
    // Report storage of ended transactions, for Record and Setup: emptied category entries (their
    // strings and lists keep their capacity) and the empty lists of entries and their slots. A
    // 1 KiB response has a few entries; each cost up to five allocations in wasm32 (names past
    // libc++'s 10 inline bytes, the values and matches lists) and two natively.
    static constexpr size_t kMaxSpareCategories = 16;
    std::vector<CategoryReport> spare_categories;
    std::vector<CategoryReport> categories;  // empty
    std::vector<int> report_slots;           // empty

    // A new report entry: every field at its default, but with the buffers of an entry an ended
    // transaction gave back, if any (emptied), so that it does not allocate its names and match
    // lists again.
    CategoryReport TakeSpareEntry() {
      CategoryReport fresh;
      if (spare_categories.empty()) return fresh;
      CategoryReport& spare = spare_categories.back();
      fresh.name.swap(spare.name);
      fresh.category.swap(spare.category);
      fresh.tag.swap(spare.tag);
      fresh.values.swap(spare.values);
      fresh.matches.swap(spare.matches);
      spare_categories.pop_back();
      return fresh;
    }
    // Takes an ended report's entries (emptied, up to kMaxSpareCategories) and its lists.
    void KeepReportStorage(std::vector<CategoryReport>* entries, std::vector<int>* slots) {
      for (CategoryReport& c : *entries) {
        if (spare_categories.size() == kMaxSpareCategories) break;
        c.values.clear();
        c.matches.clear();
        spare_categories.push_back(std::move(c));
      }
      entries->clear();
      slots->clear();
      if (entries->capacity() > categories.capacity()) categories.swap(*entries);
      if (slots->capacity() > report_slots.capacity()) report_slots.swap(*slots);
    }

    void Clear() {
      for (int kind = 0; kind < 3; ++kind) {
        text[kind].Truncate(0);
        of_kind[kind].clear();
      }
      known_hits.clear();
      paths.Truncate(0);
      pieces.clear();
      values.clear();
      marks.clear();
      grouped_marks.clear();
      mark_starts.clear();
      found.clear();
      hits.clear();
      may_match.clear();
    }
    size_t CapacityBytes() const override {
      size_t bytes = paths.capacity() + pieces.capacity() * sizeof(Piece) + values.capacity() * sizeof(BatchedValue) +
                     (marks.capacity() + grouped_marks.capacity()) * sizeof(Mark) + mark_starts.capacity() * sizeof(size_t) +
                     found.capacity() * sizeof(Span) + hits.capacity() * sizeof(SegmentScanner::Hit) + may_match.capacity() / 8;
      for (int kind = 0; kind < 3; ++kind) bytes += text[kind].capacity() + of_kind[kind].capacity() * sizeof(size_t);
      bytes += known_hits.capacity() * sizeof(KnownTexts::Hit);
      if (json != nullptr) bytes += json->CapacityBytes();
      bytes += (spare_categories.capacity() + categories.capacity()) * sizeof(CategoryReport) +
               report_slots.capacity() * sizeof(int);
      for (const CategoryReport& c : spare_categories) {
        bytes += c.name.capacity() + c.category.capacity() + c.tag.capacity() +
                 c.values.capacity() * sizeof(std::string) + c.matches.capacity() * sizeof(MatchRecord);
      }
      return bytes;
    }
  };
  std::unique_ptr<BatchScratch> batch_;  // set up by Setup when scalars are batched
  std::vector<Piece> open_pieces_;  // pieces_ of the open scalar while FlushBatch borrows it
  bool batch_limit_hit_ = false;
  uint64_t dec_total_ = 0;
  uint64_t raw_consumed_ = 0;
  // redaction output
  std::string held_;          // raw bytes [released_, released_ + held_.size())
  uint64_t released_ = 0;
  uint64_t redacted_until_ = 0;
  uint64_t block_at_ = UINT64_MAX;  // raw offset of the first blocked match
  std::vector<Redaction> redactions_;  // ordered by where they begin, unless !redactions_ordered_
  bool redactions_ordered_ = true;
  // Content-Encoding
  std::string content_encoding_;               // the header's value(s)
  std::string grpc_encoding_;                  // compressed gRPC messages' coding (GrpcWalker)
  std::unique_ptr<ContentDecoder> decoder_;    // set when the body is analysed decoded
  ContentDecoder::Sink decoded_sink_;          // built once, like hits_cb_
  // Block hold-back of a compressed body: the chunks held.
  FrontQueue<HeldChunk> held_chunks_;
};

struct Transaction::Directions {
  Directions(const CompiledPolicy* cp, const std::shared_ptr<const ResolvedEndpoint>& endpoint,
             const TransactionOptions* opts, PolicyCache* cache)
      : request(cp, endpoint, opts, Direction::kRequest, cache),
        response(cp, endpoint, opts, Direction::kResponse, cache) {}
  DirectionState request;
  DirectionState response;
};

Transaction::Transaction(std::shared_ptr<const CompiledPolicy> policy, std::string_view authority,
                         std::string_view path, TransactionOptions options, PolicyCache* cache)
    : policy_(std::move(policy)), options_(options) {
  const std::string_view path_only = path.substr(0, path.find('?'));
  target_.reserve(authority.size() + 1 + path_only.size());
  target_.append(authority);
  if (!path.empty() && path.front() != '/') target_ += '/';
  target_.append(path_only);
  endpoint_ = cache != nullptr ? cache->Get(policy_, target_)
                               : std::make_shared<const ResolvedEndpoint>(policy_->Resolve(target_));
  directions_ = std::make_unique<Directions>(policy_.get(), endpoint_, &options_, cache);
}

Transaction::~Transaction() = default;

Transaction::DirectionState& Transaction::state(Direction d) {
  return d == Direction::kRequest ? directions_->request : directions_->response;
}
const Transaction::DirectionState& Transaction::state(Direction d) const {
  return d == Direction::kRequest ? directions_->request : directions_->response;
}

void Transaction::OnHeaders(Direction d, const HeaderList& headers) {
  const TokenExtractorConfig* te = endpoint_->token_extractor;
  if (te != nullptr && !token_) {
    using Location = TokenExtractorConfig::Location;
    bool request_side = te->location != Location::kResponse;
    if (request_side == (d == Direction::kRequest)) {
      const std::string wanted = te->location == Location::kRequestCookie ? "cookie" : te->header;
      for (const auto& [name, value] : headers) {
        if (AsciiToLower(name) != wanted) continue;
        std::optional<std::string> input(value);
        if (te->location == Location::kRequestCookie) input = CookieValue(value, te->header);
        if (input) token_ = ExtractToken(te->steps, *input);
        if (token_) break;
      }
    }
  }
  state(d).OnHeaders(headers);
}

void Transaction::OnBody(Direction d, std::string_view chunk, bool end_of_stream, std::string* out) {
  state(d).OnBody(chunk, end_of_stream, out);
}

const DirectionReport& Transaction::report(Direction d) const { return state(d).report(); }

bool Transaction::may_hold_body(Direction d) const { return state(d).redacting(); }

}  // namespace leakscope
