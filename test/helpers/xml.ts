/** A parsed XML element: name, attributes, child elements and text. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const decode = (s: string) =>
  s.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, e: string) =>
    e[0] === '#'
      ? String.fromCodePoint(e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)))
      : ENTITIES[e]!,
  );

/**
 * A small strict XML parser for the Mirth channel exports (elements, attributes, text, CDATA,
 * comments, the XML declaration). Throws on mismatched or unclosed tags, so a broken export fails.
 */
export function parseXml(xml: string): XmlElement {
  let i = 0;
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const top = stack[stack.length - 1]!;
    if (lt < 0) {
      if (xml.slice(i).trim() !== '') throw new Error('text after the root element');
      break;
    }
    if (lt > i) top.text += decode(xml.slice(i, lt));
    if (xml.startsWith('<?', lt)) {
      i = xml.indexOf('?>', lt) + 2;
    } else if (xml.startsWith('<!--', lt)) {
      i = xml.indexOf('-->', lt) + 3;
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt);
      top.text += xml.slice(lt + 9, end);
      i = end + 3;
    } else if (xml[lt + 1] === '/') {
      const end = xml.indexOf('>', lt);
      const name = xml.slice(lt + 2, end).trim();
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
      i = end + 1;
    } else {
      const end = xml.indexOf('>', lt);
      if (end < 0) throw new Error('unclosed tag');
      const selfClosing = xml[end - 1] === '/';
      const body = xml.slice(lt + 1, selfClosing ? end - 1 : end);
      const name = /^[^\s/>]+/.exec(body)?.[0] ?? '';
      const attrs: Record<string, string> = {};
      for (const m of body.slice(name.length).matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g))
        attrs[m[1]!] = decode(m[2]!);
      const el: XmlElement = { name, attrs, children: [], text: '' };
      top.children.push(el);
      if (!selfClosing) stack.push(el);
      i = end + 1;
    }
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1]!.name}> is not closed`);
  const doc = root.children[0];
  if (!doc || root.children.length !== 1) throw new Error('expected exactly one root element');
  return doc;
}

/** The first descendant along a path of element names (`a/b/c`); undefined when absent. */
export function at(el: XmlElement | undefined, path: string): XmlElement | undefined {
  let cur = el;
  for (const part of path.split('/')) cur = cur?.children.find((c) => c.name === part);
  return cur;
}

/** The text at a path, trimmed. */
export const textAt = (el: XmlElement | undefined, path: string) => at(el, path)?.text.trim();
