// `cdk synth` / `cdk deploy` entry point: reads the config file named by the context key scrna:config.
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildPlatform } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const app = new App();
const file = String(app.node.tryGetContext('scrna:config') ?? 'config.yaml');
buildPlatform(loadConfig(path.resolve(file)), app, { nag: true });
app.synth();
