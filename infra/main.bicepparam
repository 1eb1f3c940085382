// An example deployment: replace the access values with your identity provider's.
using 'main.bicep'

param name = 'exportjobs'
param accessIssuer = 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0'
param accessAudience = 'api://export-jobs'
param accessMetadataAddress = 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration'
param accessAllowedClientIds = ['00000000-0000-0000-0000-000000000001']
param accessDefaultSandboxes = ['prod']
param accessSandboxes = {
  '1BD6382559DF0C130A49422D@AdobeOrg': ['prod', 'dev']
}
