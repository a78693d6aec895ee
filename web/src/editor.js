// editor.js: the Cedar policy editor (CodeMirror 6).
//
// Highlighting is a small stream tokenizer (keywords, entity types, strings,
// comments, annotations); errors and warnings come from leash itself
// (POST /api/policies/validate, debounced), and completion from
// POST /api/policies/complete, so the editor never disagrees with the
// engine that will enforce the text. Positions are 1-based lines and
// columns in characters, as the API gives them.
import { EditorView, basicSetup } from 'codemirror';
import { StreamLanguage } from '@codemirror/language';
import { linter, lintGutter } from '@codemirror/lint';
import { autocompletion } from '@codemirror/autocomplete';

export const editorState = { ready: false };

const KEYWORDS = /^(permit|forbid|when|unless|principal|action|resource|context|in|has|like|is|if|then|else|true|false)\b/;

const cedar = StreamLanguage.define({
	name: 'cedar',
	token(stream) {
		if (stream.eatSpace()) return null;
		if (stream.match('//')) {
			stream.skipToEnd();
			return 'comment';
		}
		if (stream.match(/^@[A-Za-z_]\w*/)) return 'meta';
		if (stream.peek() === '"') {
			stream.next();
			let esc = false;
			for (let ch; (ch = stream.next()) !== undefined;) {
				if (ch === '"' && !esc) break;
				esc = ch === '\\' && !esc;
			}
			return 'string';
		}
		if (stream.match(KEYWORDS)) return 'keyword';
		if (stream.match(/^[A-Z]\w*(::[A-Z]\w*)*(?=::)/)) return 'typeName';
		if (stream.match(/^\d+/)) return 'number';
		if (stream.match(/^(==|!=|&&|\|\||<=|>=|[<>!])/)) return 'operator';
		if (stream.match(/^[A-Za-z_]\w*/)) return 'variableName';
		stream.next();
		return null;
	},
});

const pos = (doc, line, column) => {
	const l = doc.line(Math.max(1, Math.min(line, doc.lines)));
	return Math.min(l.from + Math.max(0, column - 1), l.to);
};

const KIND = {
	keyword: 'keyword', action: 'function', entityType: 'type', resource: 'constant',
	contextKey: 'property', variable: 'variable',
};

export function makeEditor(parent, api, onLint) {
	const lint = linter(async (view) => {
		const doc = view.state.doc;
		const r = await api('POST', '/api/policies/validate', doc.toString(), 'text/plain');
		if (!r.ok) return [];
		const out = [];
		for (const d of [...r.body.errors, ...r.body.warnings]) {
			const from = pos(doc, d.line, d.column);
			out.push({
				from,
				to: Math.min(doc.length, from + Math.max(1, d.width || 1)),
				severity: d.severity === 'error' ? 'error' : 'warning',
				message: d.message + (d.hint ? ' (hint: ' + d.hint + ')' : ''),
				source: d.code,
			});
		}
		onLint({ errors: r.body.errors.length, warnings: r.body.warnings.length });
		return out;
	}, { delay: 400 });

	const complete = async (ctx) => {
		const word = ctx.matchBefore(/[\w:"@./*-]*$/);
		if (!ctx.explicit && (!word || word.from === word.to)) return null;
		const line = ctx.state.doc.lineAt(ctx.pos);
		const r = await api('POST', '/api/policies/complete', {
			cedar: ctx.state.doc.toString(),
			cursor: { line: line.number, column: ctx.pos - line.from + 1 },
			maxItems: 200,
		});
		if (!r.ok || !r.body.items.length) return null;
		const it = r.body.items[0].range;
		return {
			from: pos(ctx.state.doc, it.start.line, it.start.column),
			to: pos(ctx.state.doc, it.end.line, it.end.column),
			options: r.body.items.map((i) => ({
				label: i.label, apply: i.insertText, type: KIND[i.kind] || 'text', detail: i.detail || undefined,
			})),
			filter: false,
		};
	};

	return new EditorView({
		parent,
		extensions: [basicSetup, cedar, lint, lintGutter(), autocompletion({ override: [complete] }),
			EditorView.theme({ '&': { height: '100%' }, '.cm-scroller': { overflow: 'auto' } })],
	});
}

export function setText(view, text) {
	view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}
