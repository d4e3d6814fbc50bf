// Example client of SelfEmployedService v2 (BCSS) with node-soap, over mutual TLS.
// Interface and output: examples/clients/README.md; steps: README.md of this folder.
//
//   ./consult career SSIN [BEGIN_DATE [END_DATE]]              consultCareer
//   ./consult contributions SSIN FIRST_QUARTER LAST_QUARTER    consultContributions
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const soap = require('soap');

const USAGE =
  'usage: ./consult career SSIN [BEGIN_DATE [END_DATE]]\n' +
  '       ./consult contributions SSIN FIRST_QUARTER LAST_QUARTER';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`the environment variable ${name} is not set`);
  return value;
}

// The operation and its criteria, from the command line.
function parseArguments([kind, ssin, first, last, ...rest]) {
  if (kind === 'career' && ssin && rest.length === 0) {
    if (!first) return ['consultCareer', { ssin }];
    const period = { beginDate: first, ...(last && { endDate: last }) };
    return ['consultCareer', { ssin, period }];
  }
  if (kind === 'contributions' && ssin && first && last && rest.length === 0) {
    return ['consultContributions', { ssin, period: { beginQuarter: first, endQuarter: last } }];
  }
  throw new Error(USAGE);
}

function customerIdentification() {
  if (process.env.SEG_CUSTOMER_CBE) return { cbeNumber: process.env.SEG_CUSTOMER_CBE };
  return { sector: env('SEG_CUSTOMER_SECTOR'), institution: env('SEG_CUSTOMER_INSTITUTION') };
}

// node-soap gives a repeated element as an array when it occurs several times, as a plain
// object when it occurs once, and leaves the key out when it is absent.
const list = (value) => (value === undefined || value === null ? [] : [value].flat());
// An element with attributes (<ssin replaces="…">) becomes { attributes, $value }.
const text = (value) =>
  String((typeof value === 'object' && value !== null ? value.$value : value) ?? '');

const print = (name, value) => process.stdout.write(`${name}: ${value}\n`);

function printInformations(element) {
  for (const information of list(element.information)) {
    print('information', `${text(information.fieldName)}=${text(information.fieldValue)}`);
  }
}

function printAnswer(answer) {
  const { status, career } = answer;
  print('status', `${text(status.value)} ${text(status.code)}`);
  print('description', text(status.description));
  printInformations(status);
  print('ticketCBSS', text(answer.informationCBSS?.ticketCBSS));
  if (answer.ssin !== undefined) print('ssin', text(answer.ssin));
  if (career) {
    const affiliations = list(career.affiliations?.affiliation);
    const segments = affiliations.flatMap((a) => list(a.careerSegments?.careerSegment));
    const counts = `affiliations=${affiliations.length} segments=${segments.length}`;
    print('career', `${text(career.nisseReference)} ${counts}`);
  }
  for (const contribution of list(answer.contributions?.contribution)) {
    const fund = text(contribution.socialInsuranceFund?.code);
    print('contribution', `${text(contribution.quarter)} fund=${fund}`);
  }
}

// fault: the parsed soapenv:Fault; its detail holds ses:consultCareerFault or
// ses:consultContributionsFault (the prefix is dropped by node-soap).
function printFault(fault, operation) {
  print('fault', `${text(fault.faultcode).split(':').pop()} ${text(fault.faultstring)}`);
  const detail = fault.detail?.[`${operation}Fault`] ?? {};
  for (const entry of list(detail.detail)) {
    print('reasonCode', text(entry.reasonCode));
    print('diagnostic', text(entry.diagnostic));
    printInformations(entry);
  }
  print('ticketCBSS', text(detail.informationCBSS?.ticketCBSS));
}

async function main(argv) {
  const [operation, criteria] = parseArguments(argv);
  // Mutual TLS: the institution's certificate and key, and as the only trusted CA the one that
  // issued the gateway's certificate. The WSDL and its XSDs are served on the same mutual-TLS
  // port, so the WSDL fetch (wsdl_options) needs the agent as much as the calls do.
  const agent = new https.Agent({
    cert: fs.readFileSync(env('SEG_CLIENT_CERT_FILE')),
    key: fs.readFileSync(env('SEG_CLIENT_KEY_FILE')),
    ca: fs.readFileSync(env('SEG_CA_FILE')),
  });
  // The endpoint is the soap:address of the served WSDL.
  const client = await soap.createClientAsync(env('SEG_WSDL_URL'), {
    wsdl_options: { httpsAgent: agent },
  });
  const request = {
    informationCustomer: {
      ticket: crypto.randomUUID(),
      customerIdentification: customerIdentification(),
    },
    legalContext: env('SEG_LEGAL_CONTEXT'),
    criteria,
  };
  try {
    const [answer] = await client[`${operation}Async`](request, { httpsAgent: agent });
    printAnswer(answer);
    return 0;
  } catch (error) {
    // A SOAP fault (HTTP 500) rejects with the parsed envelope in error.root.
    const fault = error.root?.Envelope?.Body?.Fault;
    if (!fault) throw error;
    printFault(fault, operation);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`consult: ${error.message.trim()}\n`);
    process.exitCode = 1;
  },
);
