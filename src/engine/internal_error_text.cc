#include "engine/internal_error_text.h"

#include <string_view>
#include <utility>

#include "engine/internal_pattern_bundle.h"

namespace leakscope {
namespace {

struct ErrorFamily {
  std::string_view name;
  bool in_default_set;
};

// LeakSignal's documented families; the first eleven are its default set.
constexpr ErrorFamily kFamilies[] = {
    {"js_error", true},
    {"py_error", true},
    {"java_error", true},
    {"rust_error", true},
    {"ruby_error", true},
    {"go_error", true},
    {"php_error", true},
    {"mysql_error", true},
    {"postgres_error", true},
    {"redis_error", true},
    {"mongodb_error", true},
    {"type_error", false},
    {"uncaught", false},
    {"socket_error", false},
    {"operation_not_supported", false},
    {"callback", false},
    {"segfault", false},
    {"runtime_error", false},
    {"out_of_memory", false},
    {"permission_denied", false},
    {"command_not_found", false},
    {"js_unknown_argument", false},
    {"js_invalid_invocation", false},
    {"js_bug_message", false},
    {"envoy_segfault", false},
};

// Longest match, in bytes: long enough for a deep JVM frame or a Go panic header.
constexpr size_t kErrorTextWindow = 1024;

struct ErrorPattern {
  std::string_view family;
  std::string_view trigger;  // short gap-free prefix of every match (see PatternBundle)
  std::string_view rest;     // the remainder, often empty
};

// Alternatives for a line break: a real one, or the two characters `\n` of a JSON string.
#define LS_NL R"re((?:\r?\n|\\r\\n|\\n))re"

// Recognisers, matched case-sensitively. Each one keys on text that only an error message or a
// stack trace contains: a runtime's fixed wording, an exception class name, or a frame layout
// with file and line number. Messages are often embedded in JSON, so quotes may appear escaped
// (`\\?"`) and line breaks may be the two characters `\n`.
//
// The trigger is what the first-stage DFA looks for (see PatternBundle): a short prefix with no
// long repetitions. Gaps go in `rest` and are left unbounded; kErrorTextWindow bounds every
// match. Free text at the end of a match is kept short ({0,120}) so reported values stay readable.
constexpr ErrorPattern kPatterns[] = {
    // ---- JavaScript (V8 / Node.js) ----
    // Stack frame with a file position: "    at fn (/app/x.js:1:2)", "at node:internal/x:1:2".
    {"js_error", R"re(\bat )re",
     R"re((?:(?:new|async) )?(?:[\w$.<>\[\]]+(?: \[as [\w$]{1,60}\])? \()?)re"
     R"re((?:(?:file://)?[\w$@~+./\\:-]+\.(?:js|mjs|cjs|jsx|ts|tsx)|node:[\w/.-]+))re"
     R"re(:[0-9]{1,7}:[0-9]{1,7}\)?)re"},
    // V8's wording for the common runtime errors ("TypeError: x is not a function").
    {"js_error", R"re(\b(?:TypeError|ReferenceError|SyntaxError|RangeError): )re",
     R"re((?:[^\s"]+ )?(?:is not a function|is not defined|is not iterable|)re"
     R"re(is not a constructor|Cannot read propert(?:y|ies) of (?:undefined|null)|)re"
     R"re(Cannot set propert(?:y|ies) of (?:undefined|null)|Unexpected token|)re"
     R"re(Unexpected end of JSON input|Maximum call stack size exceeded|Invalid array length|)re"
     R"re(Assignment to constant variable))re"},
    {"js_error", R"re(\bError: Cannot find module )re", R"re(\\?'[^'\n\r]+')re"},
    {"js_error", R"re(\b(?:Error|TypeError|RangeError|SyntaxError) \[ERR_)re",
     R"re([A-Z0-9_]{2,60}\]: )re"},

    // ---- Python ----
    {"py_error", R"re(Traceback \(most recent call last\):)re", ""},
    {"py_error", R"re(\bFile \\?")re",
     R"re([^"\n\r]+", line [0-9]{1,7}(?:, in [\w<>.]+)?)re"},
    {"py_error",
     R"re(\b(?:ModuleNotFoundError|ImportError|NameError|AttributeError|ZeroDivisionError|)re"
     R"re(IndentationError|UnboundLocalError): )re",
     R"re((?:No module named|cannot import name|name '[\w.]+' is not defined|)re"
     R"re('[\w.]+' object has no attribute|)re"
     R"re((?:integer )?division(?: or modulo)? by zero|unexpected indent|)re"
     R"re(expected an indented block|unindent does not|local variable|)re"
     R"re(cannot access local variable))re"},
    {"py_error", R"re(\b(?:django|sqlalchemy|flask|werkzeug)\.)re",
     R"re([a-z_]+(?:\.[a-z_]+){0,3}\.[A-Z]\w*(?:Error|Exception|DoesNotExist)\b)re"},

    // ---- Java / JVM ----
    {"java_error", R"re(Exception in thread )re", R"re(\\?"[^"\n\r\\]+\\?")re"},
    // "at com.foo.Bar.baz(Bar.java:42)", "at java.base/java.lang.Thread.run(Thread.java:833)".
    {"java_error", R"re(\bat )re",
     R"re((?:[\w.$-]+/)?[a-zA-Z_$][\w$]*\.[\w$.<>]+)re"
     R"re(\((?:[\w$-]+\.(?:java|kt|scala|groovy|clj):[0-9]{1,7}|Native Method|)re"
     R"re(Unknown Source)\))re"},
    {"java_error", R"re(\b(?:java|javax|jakarta)\.)re",
     R"re([a-z]{2,20}(?:\.[a-z]{2,20}){0,3}\.[A-Z][\w$]*(?:Exception|Error)\b)re"},
    {"java_error", R"re(\bCaused by: )re", R"re([\w$.]+(?:Exception|Error)\b)re"},
    {"java_error", R"re(\b(?:org|com|net|io)\.[a-z])re",
     R"re([\w.]*\.[A-Z][\w$]*Exception\b)re"},

    // ---- Rust ----
    {"rust_error", R"re(\bthread ')re", R"re([^'\n\r]+' panicked at )re"},
    {"rust_error", R"re(run with `RUST_BACKTRACE=(?:1|full)`)re", ""},
    {"rust_error", R"re(\bcalled `(?:Option|Result)::)re",
     R"re((?:unwrap|expect)(?:_err)?\(\)` on an? `(?:None|Err|Ok)` value)re"},
    {"rust_error", R"re(\berror\[E[0-9]{4}\]: )re", ""},

    // ---- Ruby ----
    // Frame: "/app/models/user.rb:12:in 'block in foo'". A match can only start where its
    // trigger does, so the trigger takes (the last 64 bytes of) the path.
    {"ruby_error", R"re([\w./~-]{1,64}\.rb:[0-9])re", R"re([0-9]{0,6}:in [`'][^'\n\r]+')re"},
    {"ruby_error", R"re(\bundefined (?:method|local variable or method) [`'])re",
     R"re([^'\n\r]+' for )re"},
    {"ruby_error",
     R"re(\((?:NoMethodError|NameError|ArgumentError|ZeroDivisionError|LoadError|TypeError|)re"
     R"re(RuntimeError|StandardError|FrozenError|KeyError|IOError|Errno::[A-Z]{2,20})\))re",
     ""},
    {"ruby_error",
     R"re(\b(?:ActiveRecord::(?:RecordNotFound|StatementInvalid|RecordInvalid|)re"
     R"re(RecordNotUnique|ConnectionNotEstablished)|)re"
     R"re(ActionController::(?:RoutingError|ParameterMissing|InvalidAuthenticityToken)|)re"
     R"re(ActionView::Template::Error)\b)re",
     ""},

    // ---- Go ----
    {"go_error", R"re(\bgoroutine [0-9]{1,9} \[)re",
     R"re((?:running|runnable|syscall|chan receive|chan send|select|sleep|IO wait|semacquire|)re"
     R"re(sync\.Mutex\.Lock)(?:, [0-9]{1,6} minutes)?(?:, locked to thread)?\]:)re"},
    // "panic: <message>" followed, a line or two later, by the goroutine header.
    {"go_error", R"re(\bpanic: )re",
     R"re([^\n\r]+)re" LS_NL R"re({1,3}(?:\[recovered\][^\n\r]*)re" LS_NL
     R"re({1,2})?goroutine [0-9]{1,9} \[running\]:)re"},
    {"go_error", R"re(\bruntime error: )re",
     R"re((?:invalid memory address or nil pointer dereference|index out of range|)re"
     R"re(slice bounds out of range|integer divide by zero|makeslice: len out of range))re"},
    // Frame: "/usr/local/go/src/runtime/panic.go:212 +0x55".
    {"go_error", R"re([\w./-]{1,64}\.go:[0-9])re", R"re([0-9]{0,6} \+0x[0-9a-f]{1,16})re"},
    {"go_error", R"re(\bfatal error: )re",
     R"re((?:all goroutines are asleep - deadlock!|)re"
     R"re(concurrent map (?:writes|read and map write|iteration and map write)))re"},

    // ---- PHP ----
    // The message between "Fatal error:" and " in <file>.php" is free text, so the two ends are
    // matched separately.
    {"php_error",
     R"re(\bPHP (?:Fatal error|Parse error|Warning|Notice|Deprecated|Catchable fatal error|)re"
     R"re(Recoverable fatal error): )re",
     ""},
    {"php_error",
     R"re(<b>(?:Fatal error|Parse error|Warning|Notice|Deprecated|Catchable fatal error|)re"
     R"re(Recoverable fatal error)</b>: )re",
     ""},
    {"php_error", R"re(\bin )re",
     R"re((?:<b>)?[^\s<>"]+\.php(?:</b>)?(?: on line (?:<b>)?[0-9]{1,7}(?:</b>)?|:[0-9]{1,7}\b))re"},
    {"php_error", R"re(#[0-9]{1,4} )re", R"re([^\s(]+\.php\([0-9]{1,7}\): )re"},
    {"php_error",
     R"re(\bCall to (?:undefined function|undefined method|a member function|private method|)re"
     R"re(protected method) )re",
     R"re([\w\\:>-]+\(\))re"},
    {"php_error", R"re(\bPDOException\b)re", ""},
    {"php_error", R"re(\bSQLSTATE\[[0-9A-Z]{5}\])re", ""},
    {"php_error", R"re(\bStack trace:)re", R"re((?:\r?\n|\\n|<br ?/?>){1,3}#0 )re"},

    // ---- MySQL / MariaDB ----
    {"mysql_error", R"re(You have an error in your SQL syntax)re", ""},
    {"mysql_error",
     R"re(check the manual that (?:corresponds|fits) to your (?:MySQL|MariaDB) server version)re",
     ""},
    {"mysql_error", R"re(\bERROR [0-9]{4} \([0-9A-Z]{5}\))re", ""},
    {"mysql_error", R"re(\bmysqli?_)re", R"re([a-z_]{2,30}\(\)(?::| expects))re"},
    {"mysql_error", R"re(\bUnknown column ')re", R"re([^'\n\r]+' in '[^'\n\r]+')re"},
    {"mysql_error", R"re(\bTable ')re", R"re([^'\n\r]+' doesn't exist)re"},
    {"mysql_error", R"re(\bAccess denied for user ')re",
     R"re([^'\n\r]*'@'[^'\n\r]*')re"},
    {"mysql_error", R"re(\bcom\.mysql\.(?:cj\.)?jdbc\.exceptions\.)re", R"re([\w.]{1,100})re"},
    {"mysql_error", R"re(\b(?:pymysql\.err|mysql\.connector\.errors)\.)re",
     R"re([A-Z]\w{1,60})re"},
    {"mysql_error",
     R"re(\b(?:MySQLSyntaxErrorException|ER_(?:PARSE_ERROR|NO_SUCH_TABLE|DUP_ENTRY|)re"
     R"re(BAD_FIELD_ERROR|ACCESS_DENIED_ERROR|BAD_DB_ERROR|NOT_SUPPORTED_AUTH_MODE))\b)re",
     ""},
    {"mysql_error",
     R"re(\b(?:Lost connection to MySQL server|Can't connect to (?:local )?MySQL server|)re"
     R"re(MySQL server has gone away))re",
     ""},

    // ---- PostgreSQL ----
    {"postgres_error", R"re(\bERROR: {1,2})re",
     R"re((?:syntax error at or near|relation \\?"[^"\n\r\\]+\\?" does not exist|)re"
     R"re(column \\?"[^"\n\r\\]+\\?" (?:of relation \\?"[^"\n\r\\]+\\?" )?)re"
     R"re(does not exist|duplicate key value violates unique constraint|permission denied for|)re"
     R"re(invalid input syntax for|null value in column|current transaction is aborted|)re"
     R"re(operator does not exist|function [\w.]+\([^()\n\r"]*\) does not exist|)re"
     R"re(insert or update on table|update or delete on table|value too long for type))re"},
    // lib/pq (Go) prefixes every server error with "pq: ".
    {"postgres_error", R"re(\bpq: )re", R"re([a-z][^\n\r"]{2,120})re"},
    {"postgres_error", R"re(\bFATAL: {1,2})re",
     R"re((?:password authentication failed for user|)re"
     R"re(database \\?"[^"\n\r\\]+\\?" does not exist|)re"
     R"re(role \\?"[^"\n\r\\]+\\?" does not exist|no pg_hba\.conf entry|)re"
     R"re(the database system is (?:starting up|shutting down|in recovery mode)|)re"
     R"re(sorry, too many clients already))re"},
    {"postgres_error",
     R"re(\bPG::(?:SyntaxError|UndefinedTable|UndefinedColumn|UniqueViolation|ConnectionBad|)re"
     R"re(InFailedSqlTransaction|InvalidTextRepresentation|NotNullViolation|)re"
     R"re(ForeignKeyViolation)\b)re",
     ""},
    {"postgres_error", R"re(\bpsycopg[23]?\.)re",
     R"re((?:errors\.[A-Z]\w{1,60}|OperationalError|ProgrammingError|IntegrityError|)re"
     R"re(DataError|InternalError)\b)re"},
    {"postgres_error", R"re(\borg\.postgresql\.util\.PSQLException\b)re", ""},
    {"postgres_error", R"re(\bpg_(?:query|connect|execute|prepare)\(\): )re", ""},

    // ---- Redis ----
    {"redis_error", R"re(\bWRONGTYPE Operation against a key holding the wrong kind of value)re",
     ""},
    {"redis_error", R"re(\bERR )re",
     R"re((?:unknown command|wrong number of arguments for|syntax error|)re"
     R"re(value is not an integer or out of range|invalid password|)re"
     R"re(Client sent AUTH, but no password is set|invalid DB index|no such key|)re"
     R"re(invalid expire time|unknown subcommand))re"},
    {"redis_error", R"re(\bNOAUTH Authentication required)re", ""},
    {"redis_error", R"re(\bMISCONF Redis is configured to save RDB snapshots)re", ""},
    {"redis_error", R"re(\bREADONLY You can't write against a read only (?:replica|slave))re", ""},
    {"redis_error", R"re(\bLOADING Redis is loading the dataset in memory)re", ""},
    {"redis_error", R"re(\bOOM command not allowed when used memory)re", ""},
    {"redis_error", R"re(\bCROSSSLOT Keys in request don't hash to the same slot)re", ""},
    {"redis_error", R"re(\b(?:Could not connect to Redis at|Error connecting to Redis))re", ""},
    {"redis_error", R"re(\bredis\.exceptions\.)re", R"re([A-Z]\w{1,60})re"},
    {"redis_error",
     R"re(\b(?:Redis::(?:CommandError|CannotConnectError|TimeoutError|ConnectionError)|)re"
     R"re(RedisConnectionException|RedisCommandExecutionException)\b)re",
     ""},
    {"redis_error", R"re(\bReplyError: (?:ERR|WRONGTYPE|NOAUTH|MOVED|ASK|CLUSTERDOWN)\b)re", ""},

    // ---- MongoDB ----
    {"mongodb_error",
     R"re(\bMongo(?:Server|Network|Parse|BulkWrite|Write|Timeout|ServerSelection|Transaction|)re"
     R"re(Expired|NotConnected|Runtime|Invalid|Driver|Compatibility|Topology|Cursor|API|)re"
     R"re(Missing|Batch|System)?Error: )re",
     ""},
    {"mongodb_error", R"re(\bE11000 duplicate key error)re", ""},
    {"mongodb_error", R"re(\bpymongo\.errors\.)re", R"re([A-Z]\w{1,60})re"},
    {"mongodb_error", R"re(\b(?:com\.mongodb\.|MongoDB\.Driver\.)Mongo)re",
     R"re(\w{0,60}Exception\b)re"},
    {"mongodb_error", R"re(\bmongo: no documents in result\b)re", ""},
    {"mongodb_error", R"re(\bCast to ObjectId failed for value)re", ""},
    {"mongodb_error", R"re(\bMongoose)re", R"re(\w{0,40}Error\b)re"},

    // ---- Opt-in families ----
    {"type_error", R"re(\bTypeError: )re", R"re([^\s"][^\n\r"]{0,120})re"},

    {"uncaught", R"re(\bUncaught )re",
     R"re((?:\(in promise\)|exception\b|[A-Z][\w$.\\]*(?:Error|Exception)\b))re"},
    {"uncaught",
     R"re(\b(?:UnhandledPromiseRejection(?:Warning)?|uncaughtException|unhandledRejection)\b)re",
     ""},
    {"uncaught", R"re(\bUnhandled (?:[Ee]xception|[Rr]ejection)[.:])re", ""},

    {"socket_error",
     R"re(\b(?:ECONNREFUSED|ECONNRESET|ECONNABORTED|EADDRINUSE|EADDRNOTAVAIL|EHOSTUNREACH|)re"
     R"re(ENETUNREACH|ENOTCONN|ETIMEDOUT|EPIPE|WSAECONNREFUSED|WSAECONNRESET|WSAETIMEDOUT)\b)re",
     ""},
    {"socket_error",
     R"re(\b(?:socket hang up|getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|Connection reset by peer|)re"
     R"re(socket\.(?:error|timeout|gaierror|herror)|SocketException)\b)re",
     ""},
    {"socket_error",
     R"re(\bjava\.net\.(?:SocketException|ConnectException|SocketTimeoutException|)re"
     R"re(UnknownHostException|NoRouteToHostException|BindException)\b)re",
     ""},
    {"socket_error", R"re((?::|\]) [Bb]roken pipe\b)re", ""},
    {"socket_error", R"re(\[Errno (?:32|54|60|61|104|110|111|113)\] )re",
     R"re([A-Z][a-z]{1,20}(?: [a-z]{1,20}){0,4})re"},
    {"socket_error", R"re(\bdial tcp)re",
     R"re((?: [^\s"]+)?: (?:lookup [^\s:"]+(?: on [^\s"]+)?: )?)re"
     R"re((?:connect: )?(?:connection refused|i/o timeout|no such host|)re"
     R"re(connection reset by peer|network is unreachable))re"},

    {"operation_not_supported",
     R"re(\b(?:[Oo]peration not supported|[Oo]peration is not supported|EOPNOTSUPP|ENOTSUP|)re"
     R"re(UnsupportedOperationException|NotSupportedException|NotSupportedError|)re"
     R"re(NotImplementedError|ERR_METHOD_NOT_IMPLEMENTED|)re"
     R"re(ERR_FEATURE_UNAVAILABLE_ON_PLATFORM)\b)re",
     ""},

    {"callback",
     R"re(\b(?:Callback was already called|[Cc]allback is not a function|)re"
     R"re([Cc]allback must be a function|ERR_INVALID_CALLBACK\b|ERR_MULTIPLE_CALLBACK\b|)re"
     R"re(cb is not a function|cb\(\) never called))re",
     ""},
    {"callback", R"re(\bThe \\?"(?:cb|callback)\\?" argument must be of type function)re", ""},

    {"segfault", R"re(\bSegmentation fault(?: \(core dumped\))?)re", ""},
    {"segfault", R"re(\b(?:SIGSEGV|EXC_BAD_ACCESS)\b)re", ""},
    {"segfault", R"re(\bsegfault at )re",
     R"re([0-9a-f]{1,16} ip [0-9a-f]{1,16} sp [0-9a-f]{1,16} error [0-9]{1,3})re"},
    {"segfault", R"re(\bFatal signal 11\b)re", ""},
    {"segfault", R"re(\bAccess violation (?:reading|writing) location 0x)re",
     R"re([0-9A-Fa-f]{1,16})re"},

    {"runtime_error", R"re(\b(?:runtime error|RuntimeError): )re", R"re([^\s"][^\n\r"]{0,120})re"},
    {"runtime_error", R"re(\b(?:std::runtime_error|java\.lang\.RuntimeException)\b)re", ""},
    {"runtime_error", R"re(\bterminate called after throwing an instance of ')re",
     R"re([^'\n\r]+')re"},
    {"runtime_error", R"re(\bRuntime Error!)re", ""},

    {"out_of_memory",
     R"re(\b(?:OutOfMemoryError|OutOfMemoryException|MemoryError|std::bad_alloc|ENOMEM|)re"
     R"re(OOMKilled)\b)re",
     ""},
    {"out_of_memory", R"re(JavaScript heap out of memory)re", ""},
    {"out_of_memory", R"re(\bOut of memory: Kill(?:ed)? process [0-9]{1,9})re", ""},
    {"out_of_memory", R"re(\bfatal error: runtime: out of memory)re", ""},
    {"out_of_memory", R"re(\bAllowed memory size of [0-9]{1,20} bytes exhausted)re", ""},
    {"out_of_memory", R"re(\bCannot allocate memory\b)re", ""},
    {"out_of_memory", R"re(\bmemory allocation of [0-9]{1,20} bytes failed)re", ""},
    {"out_of_memory", R"re(\bERROR: {1,2}out of memory\b)re", ""},

    {"permission_denied", R"re(\b(?:EACCES|EPERM)\b)re", ""},
    {"permission_denied",
     R"re(\[Errno (?:1|13)\] (?:Permission denied|Operation not permitted))re", ""},
    {"permission_denied", R"re(\bPermissionError: )re", R"re([^\s"][^\n\r"]{0,120})re"},
    {"permission_denied", R"re(: (?:[Pp]ermission denied|Operation not permitted)\b)re", ""},
    {"permission_denied",
     R"re(\bpermission denied for (?:table|relation|schema|database|sequence|function|view) )re",
     R"re([\w."]{1,120})re"},
    {"permission_denied",
     R"re(\b(?:java\.nio\.file\.AccessDeniedException|java\.security\.AccessControlException|)re"
     R"re(UnauthorizedAccessException)\b)re",
     ""},
    {"permission_denied", R"re(\bAccess is denied\.)re", ""},

    {"command_not_found", R"re(\b(?:ba|z|k|da|c|tc|fi|a)?sh: )re",
     R"re((?:line [0-9]{1,7}: |[0-9]{1,7}: )?[^\s:"]+: (?:command )?not found\b)re"},
    {"command_not_found", R"re(\bzsh: command not found: )re", R"re([^\s"]{1,120})re"},
    {"command_not_found", R"re(is not recognized as an internal or external command)re", ""},
    {"command_not_found", R"re(\bexec: \\?")re",
     R"re([^"\n\r]+": executable file not found in \$PATH)re"},
    {"command_not_found", R"re([\w./-]{1,64}: command not found\b)re", ""},

    // Prisma ("Unknown argument `x`"), yargs ("Unknown argument: x"), node's own flag parser.
    {"js_unknown_argument", R"re(\bUnknown arg(?:ument)? `)re", R"re([^`\n\r]+`)re"},
    {"js_unknown_argument", R"re(\bUnknown arguments?: )re", R"re([^\s"][^\n\r"]{0,120})re"},
    {"js_unknown_argument", R"re(\bnode: bad option: -)re", R"re(-?[\w-]{1,60})re"},

    // Prisma ("Invalid `prisma.user.create()` invocation") and V8/DOM ("Illegal invocation").
    {"js_invalid_invocation", R"re(\bInvalid `)re", R"re([^`\n\r]+` invocation)re"},
    {"js_invalid_invocation", R"re(\bIllegal invocation\b)re", ""},

    // Messages runtimes and frameworks print when an internal invariant broke.
    {"js_bug_message",
     R"re(This is caused by either a bug in Node\.js or incorrect usage of Node\.js internals)re",
     ""},
    {"js_bug_message",
     R"re(\bThis (?:error )?is (?:likely |probably )?(?:caused by )?a bug in )re",
     R"re((?:React|Node\.js|Prisma|npm|V8|webpack|Next\.js))re"},
    {"js_bug_message",
     R"re(This is a non-recoverable error which probably happens when the Prisma Query )re"
     R"re(Engine has a panic)re",
     ""},
    {"js_bug_message", R"re(\bERR_INTERNAL_ASSERTION\b)re", ""},

    // Envoy's signal handler output.
    {"envoy_segfault",
     R"re(\bCaught (?:Segmentation fault|Abort(?:ed)?|Bus error|Illegal instruction|)re"
     R"re(Floating point exception), suspect faulting address 0x)re",
     R"re([0-9a-fA-F]{1,16})re"},
    {"envoy_segfault",
     R"re(Backtrace \(use tools/stack_decode\.py to get line numbers\):)re", ""},
};

#undef LS_NL

class ErrorTextMatcher : public InternalMatcher {
 public:
  explicit ErrorTextMatcher(std::unique_ptr<PatternBundle> bundle) : bundle_(std::move(bundle)) {}

  void FindAll(std::string_view text, size_t start_pos, std::vector<Span>* out) const override {
    size_t pos = start_pos;
    Span m;
    while (bundle_->FindNext(text, pos, &m)) {
      if (m.end > m.begin) {
        out->push_back(m);
        pos = m.end;
      } else {
        pos = m.begin + 1;  // no recogniser matches empty text; guard anyway
      }
    }
  }

  bool MatchesWhole(std::string_view text) const override { return bundle_->FullMatch(text); }

  size_t MaxMatchLength() const override { return bundle_->max_match_length(); }

 private:
  std::unique_ptr<PatternBundle> bundle_;
};

bool KnownFamily(std::string_view name) {
  for (const ErrorFamily& f : kFamilies) {
    if (f.name == name) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> ErrorTextFamilyNames() {
  std::vector<std::string> names;
  for (const ErrorFamily& f : kFamilies) names.emplace_back(f.name);
  return names;
}

std::vector<std::string> DefaultErrorTextFamilies() {
  std::vector<std::string> names;
  for (const ErrorFamily& f : kFamilies) {
    if (f.in_default_set) names.emplace_back(f.name);
  }
  return names;
}

StatusOr<std::unique_ptr<InternalMatcher>> MakeErrorTextMatcher(
    const std::vector<std::string>& families) {
  std::vector<std::string> selected = families.empty() ? DefaultErrorTextFamilies() : families;
  for (const std::string& name : selected) {
    if (!KnownFamily(name)) {
      std::string known;
      for (const ErrorFamily& f : kFamilies) {
        if (!known.empty()) known += ", ";
        known += f.name;
      }
      return InvalidArgumentError("internal matcher error_text: unknown error family '" + name +
                                  "' (known: " + known + ")");
    }
  }
  std::vector<BundlePattern> patterns;
  for (const ErrorPattern& p : kPatterns) {
    for (const std::string& name : selected) {
      if (p.family == name) {
        patterns.push_back({std::string(p.trigger), std::string(p.rest)});
        break;
      }
    }
  }
  PatternBundle::Options options;
  options.window = kErrorTextWindow;
  StatusOr<std::unique_ptr<PatternBundle>> bundle =
      PatternBundle::Create("error_text", patterns, options);
  if (!bundle.ok()) return bundle.status();
  return std::unique_ptr<InternalMatcher>(new ErrorTextMatcher(std::move(bundle).value()));
}

}  // namespace leakscope
