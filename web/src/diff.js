// diff.js: a line diff (longest common subsequence) of two policy texts,
// for the "apply" confirmation. Policies are small; O(n*m) is fine up to
// a few thousand lines, and beyond that the summary falls back to counts.
export function lineDiff(a, b) {
	const x = a.split('\n'), y = b.split('\n');
	if (x.length * y.length > 4e6) {
		return { added: y.length, removed: x.length, lines: ['(too large to show line by line)'] };
	}
	const n = x.length, m = y.length;
	const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
	for (let i = n - 1; i >= 0; i--)
		for (let j = m - 1; j >= 0; j--)
			L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
	const lines = [];
	let i = 0, j = 0, added = 0, removed = 0;
	while (i < n || j < m) {
		if (i < n && j < m && x[i] === y[j]) {
			lines.push('  ' + x[i]);
			i++;
			j++;
		} else if (j < m && (i === n || L[i][j + 1] >= L[i + 1][j])) {
			lines.push('+ ' + y[j++]);
			added++;
		} else {
			lines.push('- ' + x[i++]);
			removed++;
		}
	}
	return { added, removed, lines: lines.filter((l, k) => l[0] !== ' ' ||
		lines.slice(Math.max(0, k - 2), k + 3).some((o) => o[0] !== ' ')) };
}
