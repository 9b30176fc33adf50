import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { at, parseXml, textAt, type XmlElement } from '../helpers/xml.js';

const DIR = new URL('../../mirth-channels/', import.meta.url);
const load = (f: string) => parseXml(readFileSync(new URL(f, DIR), 'utf8'));
const defaults = configSchema.parse({});

/** What every connector of a channel the gateway talks to must have. */
function assertHl7Mllp(props: XmlElement | undefined, where: string) {
  const mode = at(props, 'transmissionModeProperties');
  assert.equal(
    mode?.attrs.class,
    'com.mirth.connect.plugins.mllpmode.MLLPModeProperties',
    `${where}: MLLP mode`,
  );
  assert.equal(textAt(mode, 'startOfMessageBytes'), '0B', `${where}: start byte 0x0B`);
  assert.equal(textAt(mode, 'endOfMessageBytes'), '1C0D', `${where}: end bytes 0x1C 0x0D`);
  assert.equal(textAt(mode, 'useMLLPv2'), 'false', `${where}: plain MLLP (v1), as the gateway speaks`);
  assert.equal(textAt(props, 'dataTypeBinary'), 'false');
}

function assertHl7DataTypes(connector: XmlElement | undefined, where: string) {
  const tr = at(connector, 'transformer');
  assert.equal(textAt(tr, 'inboundDataType'), 'HL7V2', `${where}: inbound HL7 v2`);
  assert.equal(textAt(tr, 'outboundDataType'), 'HL7V2', `${where}: outbound HL7 v2`);
  const validation = at(tr, 'outboundProperties/responseValidationProperties');
  assert.equal(textAt(validation, 'successfulACKCode'), 'AA,CA', `${where}: AA and CA are success`);
  assert.equal(textAt(validation, 'errorACKCode'), 'AE,CE', `${where}: AE and CE are errors (retried)`);
  assert.equal(textAt(validation, 'rejectedACKCode'), 'AR,CR', `${where}: AR and CR are rejections`);
}

function assertChannelShape(ch: XmlElement, file: string) {
  assert.equal(ch.name, 'channel', file);
  assert.match(ch.attrs.version ?? '', /^4\.\d+\.\d+$/, `${file}: channel version 4.x`);
  assert.match(
    textAt(ch, 'id') ?? '',
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    `${file}: a UUID id`,
  );
  assert.ok(textAt(ch, 'name'), `${file}: a name`);
  for (const s of ['preprocessingScript', 'postprocessingScript', 'deployScript', 'undeployScript'])
    assert.ok(at(ch, s), `${file}: ${s}`);
  assert.ok(at(ch, 'properties/messageStorageMode'), `${file}: channel properties`);
  assert.equal(textAt(ch, 'exportData/metadata/enabled'), 'true');
  const src = at(ch, 'sourceConnector');
  assert.equal(textAt(src, 'transportName'), 'TCP Listener', `${file}: source is a TCP Listener`);
  assert.equal(textAt(src, 'mode'), 'SOURCE');
  const props = at(src, 'properties');
  assert.equal(props?.attrs.class, 'com.mirth.connect.connectors.tcp.TcpReceiverProperties');
  assert.equal(textAt(props, 'serverMode'), 'true');
  assertHl7Mllp(props, `${file} source`);
  assertHl7DataTypes(src, `${file} source`);
  assert.equal(at(ch, 'destinationConnectors')?.children.length, 1, `${file}: one destination`);
  // The ids of connectors must be unique within a channel, as Mirth requires on import.
  assert.equal(textAt(src, 'metaDataId'), '0');
}

describe('mirth-channels/: Mirth Connect 4.x exports', () => {
  it('holds the three channels, each a well-formed export', () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith('.xml'))
      .sort();
    assert.deepEqual(files, [
      'ehr-to-gateway-http.xml',
      'ehr-to-gateway-mllp.xml',
      'gateway-results-to-ehr.xml',
    ]);
    const ids = new Set<string>();
    for (const f of files) {
      const ch = load(f);
      assertChannelShape(ch, f);
      ids.add(textAt(ch, 'id')!);
    }
    assert.equal(ids.size, 3, 'distinct channel ids');
  });

  it('(a) EHR feed → TCP Sender to the gateway MLLP port, queueing and response validation on', () => {
    const ch = load('ehr-to-gateway-mllp.xml');
    assert.equal(textAt(ch, 'sourceConnector/properties/listenerConnectorProperties/port'), '6661');
    const dest = at(ch, 'destinationConnectors/connector');
    assert.equal(textAt(dest, 'transportName'), 'TCP Sender');
    const p = at(dest, 'properties');
    assert.equal(p?.attrs.class, 'com.mirth.connect.connectors.tcp.TcpDispatcherProperties');
    assert.equal(textAt(p, 'remoteAddress'), defaults.host);
    assert.equal(textAt(p, 'remotePort'), String(defaults.mllp.port));
    assert.equal(textAt(p, 'serverMode'), 'false');
    assert.equal(textAt(p, 'ignoreResponse'), 'false', 'the ACK is read');
    assert.equal(textAt(p, 'queueOnResponseTimeout'), 'true');
    assert.equal(textAt(p, 'template'), '${message.encodedData}', 'the message is sent unchanged');
    assert.equal(textAt(p, 'destinationConnectorProperties/queueEnabled'), 'true');
    assert.equal(textAt(p, 'destinationConnectorProperties/validateResponse'), 'true');
    assertHl7Mllp(p, 'TCP Sender');
    assertHl7DataTypes(dest, 'TCP Sender');
  });

  it('(b) EHR feed → HTTP Sender to POST /hl7 with the HL7 content type and a bearer token', () => {
    const ch = load('ehr-to-gateway-http.xml');
    const dest = at(ch, 'destinationConnectors/connector');
    assert.equal(textAt(dest, 'transportName'), 'HTTP Sender');
    const p = at(dest, 'properties');
    assert.equal(p?.attrs.class, 'com.mirth.connect.connectors.http.HttpDispatcherProperties');
    const url = new URL(textAt(p, 'host')!);
    assert.equal(url.hostname, defaults.host);
    assert.equal(url.port, String(defaults.http.port));
    assert.equal(url.pathname, '/hl7');
    assert.equal(textAt(p, 'method'), 'post');
    assert.equal(textAt(p, 'contentType'), 'x-application/hl7-v2+er7');
    assert.equal(textAt(p, 'charset'), 'UTF-8');
    const header = at(p, 'headers')?.children.find((e) => textAt(e, 'string') === 'Authorization');
    assert.match(textAt(header, 'list/string') ?? '', /^Bearer \$\{gatewayToken\}$/);
    assert.equal(textAt(p, 'destinationConnectorProperties/queueEnabled'), 'true');
    assert.equal(textAt(p, 'destinationConnectorProperties/validateResponse'), 'true');
  });

  it('(c) results listener: the port an egress destination points at, MLLP, handed on to the EHR', () => {
    const ch = load('gateway-results-to-ehr.xml');
    const port = textAt(ch, 'sourceConnector/properties/listenerConnectorProperties/port');
    assert.equal(port, '6662');
    // The README's egress example must point at this listener.
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    assert.match(readme, /port: 6662/);
    const dest = at(ch, 'destinationConnectors/connector');
    assert.equal(textAt(dest, 'transportName'), 'TCP Sender');
    assertHl7Mllp(at(dest, 'properties'), 'results TCP Sender');
    assert.equal(textAt(dest, 'properties/destinationConnectorProperties/queueEnabled'), 'true');
  });
});
