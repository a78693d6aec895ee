#!/bin/sh
test_description='leash policy check, eval, eval --batch, fmt and complete: output, diagnostics and exit status'
. "$(dirname "$0")/test-lib.sh"

cat >good.cedar <<'EOF'
// the workspace is readable and writable
@id("workspace")
permit (principal, action in [Action::"FileOpen"], resource in Dir::"/work/");
@id("no-secrets")
forbid (principal, action, resource in Dir::"/work/secrets/");
@id("github")
permit (principal, action == Action::"NetworkConnect", resource in Host::"*.github.com");
@id("mcp-read")
permit (principal, action == Action::"McpCall", resource in MCP::Server::"mcp.local")
unless { resource == MCP::Tool::"delete" };
@id("rewrite")
permit (principal, action == Action::"HttpRewrite", resource == Host::"api.github.com")
when { context.header == "Authorization" && context.value == "Bearer t" };
EOF

test_expect_success 'check: a good file is ok, exit 0' '
	"$LEASH" policy check good.cedar >out 2>err &&
	test "$(cat out)" = "good.cedar: ok, 5 policies, 0 warnings" &&
	test ! -s err
'

test_expect_success 'check: a missing semicolon is reported with position, caret and hint, exit 1' '
	printf "permit(principal, action, resource)\npermit(principal, action, resource);\n" >semi.cedar &&
	test_expect_code 1 "$LEASH" policy check semi.cedar >out 2>err &&
	test ! -s out &&
	cat >expect <<-\EOF &&
	semi.cedar:1:36: error[syntax.missing-semicolon]: expected '\'';'\'' after the policy
	 1 | permit(principal, action, resource)
	   |                                    ^
	   = hint: missing '\'';'\'' after policy?
	semi.cedar: 1 error, 0 warnings
	EOF
	test_cmp expect err
'

test_expect_success 'check: every error of a file is reported, each on its line' '
	cat >many.cedar <<-\EOF &&
	permit(principal, action, resource) when { principal.if };
	permit(principal, action, resource);
	forbid(principal, action resource);
	permit(principal, action == Action::"FileOpen", resource in Dir::"/etc");
	EOF
	test_expect_code 1 "$LEASH" policy check many.cedar 2>err &&
	grep "^many.cedar:1:54: error\[syntax.reserved-identifier\]" err &&
	grep "^many.cedar:3:26: error\[syntax.unexpected-token\]" err &&
	grep "^many.cedar: 2 errors, 0 warnings$" err
'

test_expect_success 'check: vocabulary warnings keep exit 0, vocabulary errors exit 1' '
	echo "permit(principal, action == Action::\"FileOpen\", resource in Dir::\"/etc\");" >warn.cedar &&
	"$LEASH" policy check warn.cedar 2>err >out &&
	grep "^warn.cedar:1:61: warning\[leash.dir-slash\]" err &&
	grep "ok, 1 policy, 1 warning$" out &&
	echo "permit(principal, action == Action::\"FileOpen\", resource == Host::\"a.com\");" >bad.cedar &&
	test_expect_code 1 "$LEASH" policy check bad.cedar 2>err &&
	grep "error\[leash.resource-mismatch\]" err
'

test_expect_success 'check --json: diagnostics for the editor' '
	test_expect_code 1 "$LEASH" policy check --json semi.cedar >out &&
	grep "\"ok\": *false" out &&
	grep "\"code\": *\"syntax.missing-semicolon\"" out &&
	grep "\"line\": *1" out && grep "\"column\": *36" out
'

test_expect_success 'eval: allow, with the deciding policy as reason, exit 0' '
	"$LEASH" policy eval good.cedar --principal "User::\"agent\"" --action FileOpen \
		--resource "File::\"/work/src/a.c\"" >out &&
	printf "decision: allow\nreasons: workspace\n" >expect &&
	test_cmp expect out
'

test_expect_success 'eval: the implied action hierarchy puts FileOpenReadOnly in FileOpen' '
	"$LEASH" policy eval good.cedar --principal "User::\"agent\"" --action FileOpenReadOnly \
		--resource "File::\"/work/src/a.c\"" >out &&
	printf "decision: allow\nreasons: workspace\n" >expect &&
	test_cmp expect out
'

test_expect_success 'eval: default deny, no reasons, exit 1' '
	test_expect_code 1 "$LEASH" policy eval good.cedar --principal "User::\"agent\"" \
		--action ProcessExec --resource "File::\"/usr/bin/ls\"" >out &&
	printf "decision: deny\nreasons:\n" >expect &&
	test_cmp expect out
'

test_expect_success 'eval: forbid overrides, exit 1, the forbid is the reason' '
	test_expect_code 1 "$LEASH" policy eval good.cedar --principal "User::\"agent\"" \
		--action Action::\"FileOpen\" --resource "File::\"/work/secrets/key\"" >out &&
	printf "decision: deny\nreasons: no-secrets\n" >expect &&
	test_cmp expect out
'

test_expect_success 'eval: implied hierarchy for hosts and MCP tools' '
	"$LEASH" policy eval good.cedar --principal "User::\"a\"" --action NetworkConnect \
		--resource "Host::\"api.github.com:443\"" --json >out &&
	test "$(cat out)" = "{\"decision\":\"allow\",\"reasons\":[\"github\"],\"errors\":[]}" &&
	"$LEASH" policy eval good.cedar --principal "User::\"a\"" --action McpCall \
		--resource "MCP::Tool::\"search\"" --server mcp.local >out &&
	grep "^reasons: mcp-read$" out &&
	test_expect_code 1 "$LEASH" policy eval good.cedar --principal "User::\"a\"" --action McpCall \
		--resource "MCP::Tool::\"delete\"" --server mcp.local
'

test_expect_success 'eval: --context feeds conditions; erroring policies are listed' '
	"$LEASH" policy eval good.cedar --principal "User::\"a\"" --action HttpRewrite \
		--resource "Host::\"api.github.com\"" \
		--context "{\"header\":\"Authorization\",\"value\":\"Bearer t\"}" >out &&
	grep "^reasons: rewrite$" out &&
	echo "permit(principal, action, resource) when { context.n > 1 };" >err.cedar &&
	test_expect_code 1 "$LEASH" policy eval err.cedar --principal "User::\"a\"" --action FileOpen \
		--resource "File::\"/x\"" >out &&
	grep "^error: policy0: record does not have the attribute .n.$" out
'

test_expect_success 'eval --explain: what each policy did with the request' '
	cat >ex.cedar <<-\EOF &&
	@id("workspace")
	permit (principal, action in [Action::"FileOpen"], resource in Dir::"/work/");
	@id("no-secrets")
	forbid (principal, action, resource in Dir::"/work/secrets/");
	permit (principal == User::"bob", action, resource);
	permit (principal, action, resource)
	  when { true }
	  unless { resource in Dir::"/work/" };
	permit (principal, action, resource) when { context.n > 1 };
	EOF
	"$LEASH" policy eval ex.cedar --principal "User::\"a\"" --action FileOpen \
		--resource "File::\"/work/a\"" --explain >out &&
	grep "^explain:" out >got &&
	cat >expect <<-\EOF &&
	explain: workspace (permit, line 1): satisfied
	explain: no-secrets (forbid, line 3): resource scope does not match
	explain: policy2 (permit, line 5): principal scope does not match
	explain: policy3 (permit, line 8): condition 2 stops it
	explain: policy4 (permit, line 9): condition 1 errors: record does not have the attribute '\''n'\''
	EOF
	test_cmp expect got
'

test_expect_success 'eval: usage errors exit 2 with one line' '
	test_expect_code 2 "$LEASH" policy eval good.cedar --action FileOpen 2>err &&
	test "$(wc -l <err)" -eq 1 &&
	test_expect_code 2 "$LEASH" policy eval good.cedar --principal agent --action FileOpen \
		--resource "File::\"/x\"" 2>err &&
	test "$(wc -l <err)" -eq 1 &&
	test_expect_code 2 "$LEASH" policy frobnicate 2>err &&
	test "$(wc -l <err)" -eq 1 &&
	test_expect_code 2 "$LEASH" policy 2>err
'

test_expect_success 'eval --batch: one answer a line, parse and request errors included' '
	cat >reqs.jsonl <<-\EOF &&
	{"policies":"permit(principal,action,resource) when { principal has x };","entities":[{"uid":{"type":"U","id":"a"},"attrs":{"x":1},"parents":[]}],"principal":{"type":"U","id":"a"},"action":{"type":"Action","id":"go"},"resource":{"type":"R","id":"r"},"context":{}}
	{"policies":"permit(principal,action,resource) when { principal.y };","entities":[],"principal":"U::\"a\"","action":"Action::\"go\"","resource":"R::\"r\"","context":{}}
	{"policies":"permit(principal,action,resource)","entities":[],"principal":"U::\"a\"","action":"Action::\"go\"","resource":"R::\"r\"","context":{}}
	{"policies":"","entities":[],"principal":"U::\"a\"","action":"Action::\"go\"","resource":"R::\"r\"","context":{"x":1.5}}
	EOF
	"$LEASH" policy eval --batch <reqs.jsonl >out &&
	test "$(wc -l <out)" -eq 4 &&
	sed -n 1p out | grep -F "{\"decision\":\"allow\",\"reasons\":[\"policy0\"],\"errors\":[]}" &&
	sed -n 2p out | grep -F "{\"decision\":\"deny\",\"reasons\":[],\"errors\":[\"policy0\"]}" &&
	sed -n 3p out | grep -F "\"decision\":null" && sed -n 3p out | grep -F "syntax.missing-semicolon" &&
	sed -n 4p out | grep -F "\"request_error\""
'

test_expect_success 'fmt: canonical text, a fixed point, and --check / -w' '
	"$LEASH" policy fmt good.cedar >formatted &&
	head -4 formatted >head &&
	cat >expect <<-\EOF &&
	// the workspace is readable and writable
	@id("workspace")
	permit (
	  principal,
	EOF
	test_cmp expect head &&
	"$LEASH" policy fmt formatted >again &&
	test_cmp formatted again &&
	"$LEASH" policy fmt --check formatted &&
	test_expect_code 1 "$LEASH" policy fmt --check good.cedar 2>err &&
	grep "not formatted" err &&
	cp good.cedar rewrite.cedar &&
	"$LEASH" policy fmt -w rewrite.cedar &&
	test_cmp formatted rewrite.cedar &&
	"$LEASH" policy check rewrite.cedar
'

test_expect_success 'fmt: a file with errors is not rewritten, exit 1' '
	cp semi.cedar keep.cedar &&
	test_expect_code 1 "$LEASH" policy fmt -w keep.cedar 2>err &&
	test_cmp semi.cedar keep.cedar &&
	grep "syntax.missing-semicolon" err
'

test_expect_success 'complete: candidates and the range they replace' '
	printf "permit(principal, action == Act" >c.cedar &&
	"$LEASH" policy complete c.cedar 31 >out &&
	sed -n 1p out | grep "^range 28 31$" &&
	grep -F "action	Action::\"FileOpenReadWrite\"" out &&
	test "$(wc -l <out)" -eq 8
'

test_done
