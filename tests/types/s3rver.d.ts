// s3rver ships no type declarations.
declare module "s3rver";
