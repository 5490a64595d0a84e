/**
 * The per-PI secret store's two JSON-1.1 APIs on the server's endpoint: SSM Parameter Store (`AmazonSSM.<Operation>`,
 * signing name `ssm`) and Secrets Manager (`secretsmanager.<Operation>`, signing name `secretsmanager`). Input is
 * checked against the AWS models first (ValidationException, as both services answer); the operations live in
 * service/secrets.
 */
import type { PiSecrets } from '../../service/secrets/pi-secrets.js';
import { parameterStoreOperations } from '../../service/secrets/parameter-store.js';
import { secretsManagerOperations } from '../../service/secrets/secrets-manager.js';
import type { JsonTargetApi } from '../http.js';
import { loadServiceModel } from '../model-validator.js';

export function secretStoreApis(secrets: PiSecrets): JsonTargetApi[] {
  return [
    {
      targetPrefix: 'AmazonSSM',
      service: 'ssm',
      model: loadServiceModel('ssm'),
      operations: parameterStoreOperations(secrets),
      validationCode: 'ValidationException',
    },
    {
      targetPrefix: 'secretsmanager',
      service: 'secretsmanager',
      model: loadServiceModel('secretsmanager'),
      operations: secretsManagerOperations(secrets),
      validationCode: 'ValidationException',
    },
  ];
}
