/** Fictitious test messages built in code, so a test shows the values it asserts on. */
export function vitalsOru(o: {
  controlId: string;
  mrn?: string;
  hr?: number;
  rr?: number;
  spo2?: number;
  tempF?: number;
  sbp?: number;
  time?: string;
  sep?: '\r' | '\n' | '\r\n';
}): string {
  const t = o.time ?? '20240301101500';
  const mrn = o.mrn ?? 'MRN1001';
  const segs = [
    `MSH|^~\\&|VITALS|WARD5|ML-GATEWAY|HOSP|${t}||ORU^R01^ORU_R01|${o.controlId}|P|2.5.1`,
    `PID|1||${mrn}^^^HOSP^MR||Testpatient^Alex||19480215|F`,
    'PV1|1|I|5W^501^A||||||||||||||||VN778',
    `OBR|1||ORD${o.controlId}|85353-1^Vital signs panel^LN|||${t}`,
    `OBX|1|NM|8867-4^Heart rate^LN||${o.hr ?? 128}|/min^beats per minute^UCUM|||||F|||${t}`,
    `OBX|2|NM|9279-1^Respiratory rate^LN||${o.rr ?? 28}|/min^breaths per minute^UCUM|||||F|||${t}`,
    `OBX|3|NM|59408-5^Oxygen saturation^LN||${o.spo2 ?? 88}|%^percent^UCUM|||||F|||${t}`,
    `OBX|4|NM|8310-5^Body temperature^LN||${o.tempF ?? 102.2}|[degF]^degree Fahrenheit^UCUM|||||F|||${t}`,
    `OBX|5|NM|8480-6^Systolic blood pressure^LN||${o.sbp ?? 86}|mm[Hg]^millimeter of mercury^UCUM|||||F|||${t}`,
  ];
  const sep = o.sep ?? '\r';
  return `${segs.join(sep)}${sep}`;
}

export function adtA01(controlId: string): string {
  return [
    `MSH|^~\\&|ADT|HOSP|ML-GATEWAY|HOSP|20240301090000||ADT^A01^ADT_A01|${controlId}|P|2.3`,
    'EVN|A01|20240301090000',
    'PID|1||MRN1001^^^HOSP^MR||Testpatient^Alex||19480215|F',
    'PV1|1|I|5W^501^A',
  ].join('\r');
}

export function msaCode(ack: string): string | undefined {
  return /(?:^|[\r\n])MSA\|([A-Z]{2})/.exec(ack)?.[1];
}
